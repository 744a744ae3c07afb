package transport

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// ErrNotSupported is wrapped by every error that says the kernel, or the
// sandbox around this process, does not let it use a feature. Test for it
// with errors.Is.
var ErrNotSupported = errors.New("not supported")

// UnsupportedFeatureError is a probe's conclusive "no": the feature Name,
// introduced in Linux MinimumVersion, was refused for the reason Err (an
// errno, wrapped with the call that returned it). It matches
// [ErrNotSupported] and, through Err, the errno, so both
// errors.Is(err, ErrNotSupported) and errors.Is(err, unix.EPERM) hold.
type UnsupportedFeatureError struct {
	Name           string // "splice", "vmsplice", ...
	MinimumVersion string // Linux version that introduced the feature; "" if too old to matter
	Err            error  // the cause, e.g. "vmsplice: operation not permitted (EPERM)"
}

// Error says which feature, since which kernel, and why:
// "splice not supported (requires Linux >= 2.6.17): splice: operation not
// permitted (EPERM)".
func (e *UnsupportedFeatureError) Error() string {
	if e.MinimumVersion == "" {
		return fmt.Sprintf("%s not supported: %v", e.Name, e.Err)
	}
	return fmt.Sprintf("%s not supported (requires Linux >= %s): %v", e.Name, e.MinimumVersion, e.Err)
}

// Is reports whether target is [ErrNotSupported].
func (e *UnsupportedFeatureError) Is(target error) bool { return target == ErrNotSupported }

// Unwrap returns the cause, so that errors.Is finds its errno.
func (e *UnsupportedFeatureError) Unwrap() error { return e.Err }

// Feature is one row of [Probe]: whether this process can use a feature of
// the kernel, and why not.
type Feature struct {
	Name      string `json:"name"`
	Available bool   `json:"available"`
	// Reason is empty when the feature is available, the cause otherwise:
	// "vmsplice: operation not permitted (EPERM)".
	Reason string `json:"reason"`
	// Detail is a fact beside the answer: the kernel version the feature
	// needs, or for pipe_max_size the size in bytes.
	Detail string `json:"detail"`
}

// probeRows are the rows of Probe, in order. A new probe is one line here.
var probeRows = []struct {
	name  string
	probe func() (detail string, err error)
}{
	{"memory", func() (string, error) { return "", nil }},
	{"unix", unixTest.probe},
	{"tcp", tcpTest.probe},
	{"splice", spliceTest.probe},
	{"vmsplice", vmspliceTest.probe},
	{"pipe_max_size", func() (string, error) { n, err := PipeMaxSize(); return strconv.Itoa(n), err }},
	{"io_uring", iouringTest.probe},
	{"io_uring.send_zc", func() (string, error) { d, err := sendZCTest.probe(); return d + sendZCDetail, err }},
	{"sockmap", sockmapTest.probe},
}

// Probe runs every probe (each conclusively once per process) and reports
// the features of the paths, in the order memory, unix, tcp, splice,
// vmsplice, pipe_max_size, io_uring, io_uring.send_zc, sockmap. It never fails: an unavailable feature is a row with its
// reason.
func Probe() []Feature {
	rows := make([]Feature, len(probeRows))
	for i, f := range probeRows {
		detail, err := f.probe()
		rows[i] = Feature{Name: f.name, Available: err == nil, Detail: detail}
		if err != nil {
			rows[i].Reason = probeReason(err)
		}
	}
	return rows
}

// probeReason is err's cause without the "... not supported (requires ...)"
// prefix, which the row's name and detail already say.
func probeReason(err error) string {
	var msgs []string
	for _, e := range probeFlatten(err) {
		var ufe *UnsupportedFeatureError
		if errors.As(e, &ufe) {
			e = ufe.Err
		}
		msgs = append(msgs, e.Error())
	}
	return strings.Join(msgs, "; ")
}

// probeFlatten splits an errors.Join into its errors.
func probeFlatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// ProbeUnix reports whether this process can make AF_UNIX stream sockets,
// the unix path's: nil, or an error wrapping [ErrNotSupported] and the errno.
func ProbeUnix() error { return unixTest.result() }

// ProbeTCP reports whether this process can listen on 127.0.0.1 and connect
// to itself over TCP: nil, or an error wrapping [ErrNotSupported] and the
// errno. A network namespace whose loopback is down answers no.
func ProbeTCP() error { return tcpTest.result() }

// ProbeSplice reports whether this process can splice from a pipe into a
// connected TCP socket, as the tcp path's splice mechanism does (Linux
// 2.6.17): nil, or an error wrapping [ErrNotSupported] and the errno (a
// seccomp filter typically answers EPERM or ENOSYS).
func ProbeSplice() error { return spliceTest.result() }

// ProbeVmsplice reports whether this process can vmsplice its own memory
// into a pipe and read back the same bytes (Linux 2.6.17): nil, or an error
// wrapping [ErrNotSupported] and the errno.
func ProbeVmsplice() error { return vmspliceTest.result() }

// PipeMaxSize returns the largest size, in bytes, that a pipe can be given
// with F_SETPIPE_SZ: /proc/sys/fs/pipe-max-size, which caps the bytes one
// splice of the tcp path moves. It checks once that a pipe really grows to
// that size.
//
// If the file cannot be read it returns 1 MiB, the kernel's default, and an
// error that says why. If F_SETPIPE_SZ (Linux 2.6.35) refuses, it returns
// the size a pipe has without it and an error wrapping [ErrNotSupported]
// and the errno.
func PipeMaxSize() (int, error) {
	size, readErr := pipeMaxSize()
	if err := setPipeSizeTest.result(); err != nil {
		return 16 * os.Getpagesize(), errors.Join(readErr, err) // PIPE_DEF_BUFFERS pages
	}
	return size, readErr
}

// defaultPipeMaxSize is the kernel's default pipe-max-size.
const defaultPipeMaxSize = 1 << 20

var pipeMaxSize = sync.OnceValues(func() (int, error) {
	const path = "/proc/sys/fs/pipe-max-size"
	b, err := os.ReadFile(path)
	if err != nil {
		return defaultPipeMaxSize, fmt.Errorf("pipe max size: %w; assuming %d", err, defaultPipeMaxSize)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n <= 0 {
		return defaultPipeMaxSize, fmt.Errorf("pipe max size: %s: bad content %q; assuming %d", path, b, defaultPipeMaxSize)
	}
	return n, nil
})

// KernelVersion returns the kernel's release (uname -r), or "unknown".
func KernelVersion() string { return kernelVersion() }

var kernelVersion = sync.OnceValue(func() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
})

// FallbackReason names the errno in err as the reason label of
// rr_fallbacks_total: "EPERM", "EINVAL", "ENOSYS", "EOPNOTSUPP" (also
// ENOTSUP, the same number on Linux), or "other" for anything else,
// including nil.
func FallbackReason(err error) string {
	for _, errno := range refusalErrnos {
		if errors.Is(err, errno) {
			return errnoName(errno)
		}
	}
	return "other"
}

// IsRefusal reports whether err wraps an errno by which the kernel or a
// sandbox refuses a mechanism rather than a transfer: EINVAL, ENOSYS,
// EPERM or EOPNOTSUPP. After one, the tcp path falls back to writev.
func IsRefusal(err error) bool {
	for _, errno := range refusalErrnos {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

var refusalErrnos = []syscall.Errno{unix.EPERM, unix.EINVAL, unix.ENOSYS, unix.EOPNOTSUPP}

// featureTest is one probe, declared once with its name and the Linux
// version that introduced the feature. Its answer is cached once conclusive:
// nil, or fn's refusal wrapped in an UnsupportedFeatureError. A transient
// failure (out of file descriptors or memory, a timeout) answers nothing
// about the kernel: it is returned, not cached, and the next call probes
// again.
type featureTest struct {
	name    string
	version string
	fn      func() error

	mu   sync.Mutex
	done bool
	err  error
}

func newFeatureTest(name, version string, fn func() error) *featureTest {
	return &featureTest{name: name, version: version, fn: fn}
}

func (ft *featureTest) result() error {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	if ft.done {
		return ft.err
	}
	err := ft.fn()
	if err != nil && !errors.Is(err, ErrNotSupported) && isTransientErrno(err) {
		return fmt.Errorf("probe %s: %w", ft.name, err)
	}
	if err != nil {
		err = &UnsupportedFeatureError{Name: ft.name, MinimumVersion: ft.version, Err: err}
	}
	ft.done, ft.err = true, err
	return err
}

// probe is result with the version as the detail of a Probe row.
func (ft *featureTest) probe() (string, error) {
	detail := ""
	if ft.version != "" {
		detail = "Linux >= " + ft.version
	}
	return detail, ft.result()
}

func isTransientErrno(err error) bool {
	for _, errno := range []syscall.Errno{unix.EMFILE, unix.ENFILE, unix.ENOMEM, unix.ENOBUFS, unix.EAGAIN, unix.EINTR, unix.EINPROGRESS, unix.ETIMEDOUT} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

var (
	unixTest        = newFeatureTest("AF_UNIX stream sockets", "", probeUnix)
	tcpTest         = newFeatureTest("TCP loopback", "", probeTCP)
	spliceTest      = newFeatureTest("splice", "2.6.17", probeSplice)
	vmspliceTest    = newFeatureTest("vmsplice", "2.6.17", probeVmsplice)
	setPipeSizeTest = newFeatureTest("F_SETPIPE_SZ", "2.6.35", probeSetPipeSize)
)

// probeTimeout bounds every blocking step of a probe, so that a loopback
// whose packets are dropped fails the probe instead of hanging it.
var probeTimeout = unix.Timeval{Sec: 5}

// probeData is what probes send and read back.
var probeData = []byte("roadrunner probe")

func probeUnix() error {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return opErrno("socketpair", err)
	}
	unix.Close(fds[0])
	unix.Close(fds[1])
	return nil
}

func probeTCP() error {
	client, server, err := probeTCPPair()
	if err != nil {
		return err
	}
	unix.Close(client)
	unix.Close(server)
	return nil
}

// probeTCPPair returns both ends of a TCP connection over 127.0.0.1, as
// blocking sockets with send and receive timeouts.
func probeTCPPair() (client, server int, err error) {
	ln, err := probeSocketTCP()
	if err != nil {
		return -1, -1, err
	}
	defer unix.Close(ln)
	if err := unix.Bind(ln, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return -1, -1, opErrno("bind 127.0.0.1:0", err)
	}
	if err := unix.Listen(ln, 1); err != nil {
		return -1, -1, opErrno("listen", err)
	}
	sa, err := unix.Getsockname(ln)
	if err != nil {
		return -1, -1, opErrno("getsockname", err)
	}
	client, err = probeSocketTCP()
	if err != nil {
		return -1, -1, err
	}
	if err := unix.Connect(client, sa); err != nil {
		unix.Close(client)
		return -1, -1, opErrno("connect", err)
	}
	server, _, err = unix.Accept4(ln, unix.SOCK_CLOEXEC)
	if err != nil {
		unix.Close(client)
		return -1, -1, opErrno("accept4", err)
	}
	if err := probeSetTimeouts(server); err != nil {
		unix.Close(client)
		unix.Close(server)
		return -1, -1, err
	}
	return client, server, nil
}

// probeSocketTCP makes a blocking IPv4 TCP socket with timeouts: they bound
// accept and reads (SO_RCVTIMEO), connect and writes (SO_SNDTIMEO).
func probeSocketTCP() (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, opErrno("socket AF_INET", err)
	}
	if err := probeSetTimeouts(fd); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func probeSetTimeouts(fd int) error {
	for _, opt := range []int{unix.SO_RCVTIMEO, unix.SO_SNDTIMEO} {
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, opt, &probeTimeout); err != nil {
			return opErrno("setsockopt", err)
		}
	}
	return nil
}

// probePipe returns a non-blocking pipe: a probe's pipe never waits.
func probePipe() (r, w int, err error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return -1, -1, opErrno("pipe2", err)
	}
	return p[0], p[1], nil
}

func probeSplice() error {
	if err := ProbeTCP(); err != nil {
		return fmt.Errorf("no TCP socket to splice into: %w", err)
	}
	r, w, err := probePipe()
	if err != nil {
		return err
	}
	defer unix.Close(r)
	defer unix.Close(w)
	client, server, err := probeTCPPair()
	if err != nil {
		return err
	}
	defer unix.Close(client)
	defer unix.Close(server)
	if _, err := unix.Write(w, probeData); err != nil {
		return opErrno("write pipe", err)
	}
	n, err := unix.Splice(r, nil, client, nil, len(probeData), unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
	if err != nil {
		return opErrno("splice", err)
	}
	return probeReadBack(server, probeData[:n], "splice")
}

func probeVmsplice() error {
	r, w, err := probePipe()
	if err != nil {
		return err
	}
	defer unix.Close(r)
	defer unix.Close(w)
	buf := append([]byte(nil), probeData...)
	iov := []unix.Iovec{{Base: &buf[0]}}
	iov[0].SetLen(len(buf))
	n, err := unix.Vmsplice(w, iov, 0)
	if err != nil {
		return opErrno("vmsplice", err)
	}
	err = probeReadBack(r, buf[:n], "vmsplice")
	runtime.KeepAlive(buf) // the pipe referred to buf's pages until read
	return err
}

// probeReadBack reads len(want) bytes from fd and checks they are want. op names
// the call that sent them.
func probeReadBack(fd int, want []byte, op string) error {
	if len(want) == 0 {
		return fmt.Errorf("%s: moved 0 bytes", op)
	}
	got := make([]byte, len(want))
	for off := 0; off < len(got); {
		n, err := unix.Read(fd, got[off:])
		if err != nil {
			return opErrno("read after "+op, err)
		}
		if n == 0 {
			return fmt.Errorf("read after %s: end of file after %d of %d bytes", op, off, len(got))
		}
		off += n
	}
	if string(got) != string(want) {
		return fmt.Errorf("%s: read back %q, want %q", op, got, want)
	}
	return nil
}

func probeSetPipeSize() error {
	size, _ := pipeMaxSize()
	r, w, err := probePipe()
	if err != nil {
		return err
	}
	defer unix.Close(r)
	defer unix.Close(w)
	if _, err := unix.FcntlInt(uintptr(w), unix.F_SETPIPE_SZ, size); err != nil {
		return opErrno(fmt.Sprintf("fcntl F_SETPIPE_SZ %d", size), err)
	}
	return nil
}

// opErrno wraps err, the errno that op returned, naming both:
// "vmsplice: operation not permitted (EPERM)".
func opErrno(op string, err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return fmt.Errorf("%s: %w (%s)", op, err, errnoName(errno))
	}
	return fmt.Errorf("%s: %w", op, err)
}

// errnoName is unix.ErrnoName, calling 95 by the name socket calls return
// it under (EOPNOTSUPP, equal to ENOTSUP on Linux).
func errnoName(errno syscall.Errno) string {
	if errno == unix.EOPNOTSUPP {
		return "EOPNOTSUPP"
	}
	if name := unix.ErrnoName(errno); name != "" {
		return name
	}
	return "errno " + strconv.Itoa(int(errno))
}
