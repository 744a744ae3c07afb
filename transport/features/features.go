package features

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/roadrunner-wasm/roadrunner/internal/shmem"
)

// ErrNotSupported is wrapped by every error that says the kernel, or the
// sandbox around this process, does not let it use a feature. Test for it
// with errors.Is.
var ErrNotSupported = errors.New("not supported")

// UnsupportedFeatureError is a probe's conclusive "no": the feature Name,
// introduced in Linux MinimumVersion, was refused for the reason Err (an
// errno, wrapped with the call that returned it). It matches
// [ErrNotSupported] and, through Err, the errno, so both
// errors.Is(err, ErrNotSupported) and errors.Is(err, syscall.EPERM) hold.
type UnsupportedFeatureError struct {
	Name           string // "splice", "vmsplice", ...
	MinimumVersion string // Linux version that introduced the feature; "" if too old to matter
	Err            error  // the cause, e.g. "vmsplice: operation not permitted (EPERM)"
}

// Error says which feature, since which kernel, and why:
// "splice not supported (requires Linux >= 2.6.17): splice: operation not
// permitted (EPERM)". A refusal for want of a capability (a
// CapabilityError) does not name the kernel version: it is not the cause.
func (e *UnsupportedFeatureError) Error() string {
	var ce *CapabilityError
	if e.MinimumVersion == "" || errors.As(e.Err, &ce) {
		return fmt.Sprintf("%s not supported: %v", e.Name, e.Err)
	}
	return fmt.Sprintf("%s not supported (requires Linux >= %s): %v", e.Name, e.MinimumVersion, e.Err)
}

// Is reports whether target is [ErrNotSupported].
func (e *UnsupportedFeatureError) Is(target error) bool { return target == ErrNotSupported }

// Unwrap returns the cause, so that errors.Is finds its errno.
func (e *UnsupportedFeatureError) Unwrap() error { return e.Err }

// CapabilityError is a refusal (EPERM, EACCES) by a process that lacks
// capabilities the feature needs, found in its effective set (capget).
type CapabilityError struct {
	Missing []string // "CAP_BPF", "CAP_NET_ADMIN", …
	Needs   string   // what the feature needs, for the message
	Err     error    // the refusal
}

// Error names the refusal and what is missing: "…: operation not permitted
// (EPERM): this process lacks CAP_BPF (needs CAP_BPF and CAP_NET_ADMIN, …)".
func (e *CapabilityError) Error() string {
	return fmt.Sprintf("%v: this process lacks %s (needs %s)", e.Err, strings.Join(e.Missing, ", "), e.Needs)
}

// Unwrap returns the refusal, so that errors.Is finds its errno.
func (e *CapabilityError) Unwrap() error { return e.Err }

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
	{"tls", func() (string, error) { return ktlsDetail, HaveKTLS() }},
	{"shm", func() (string, error) { return shmDetail, HaveSharedMemory() }},
}

// shmDetail is the shm row's note.
const shmDetail = "Linux >= 3.17 (memfd, seals); the receiving function's engine must share its memory"

// HaveSharedMemory reports whether this process may make, seal and map the
// memfds of the shm path (a seccomp profile may refuse memfd_create): nil,
// or why not.
func HaveSharedMemory() error {
	if err := shmem.Probe(); err != nil {
		return &UnsupportedFeatureError{Name: "memfd", MinimumVersion: "3.17", Err: err}
	}
	return nil
}

// ktlsDetail is the tls row's note: what node.tls does meanwhile.
const ktlsDetail = "Linux >= 4.13; without it node.tls is user-space TLS: plain writes, no splice, io_uring or sockmap"

// HaveKTLS reports whether the kernel offers TLS as a TCP upper-layer
// protocol (kTLS, "tls" in /proc/sys/net/ipv4/tcp_available_ulp), which
// would let splice and the sockmap carry TLS records: nil, or why not.
// The transport does not use it yet; its TLS is crypto/tls, in user
// space.
func HaveKTLS() error { return probeKTLS() }

// Probe runs every probe (each conclusively once per process) and reports
// the features of the paths, in the order memory, unix, tcp, splice,
// vmsplice, pipe_max_size, io_uring, io_uring.send_zc, sockmap, tls, shm. It never
// fails: an unavailable feature is a row with its reason. Off Linux every
// row but memory is unavailable.
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

// sendZCDetail is the io_uring.send_zc row's note: where zero copy pays.
const sendZCDetail = "; loopback and veth copy anyway: zero copy turns off per connection there"

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

// HaveUnix reports whether this process can make AF_UNIX stream sockets,
// the unix path's: nil, or an error wrapping [ErrNotSupported] and the errno.
func HaveUnix() error { return unixTest.result() }

// HaveTCP reports whether this process can listen on 127.0.0.1 and connect
// to itself over TCP: nil, or an error wrapping [ErrNotSupported] and the
// errno. A network namespace whose loopback is down answers no.
func HaveTCP() error { return tcpTest.result() }

// HaveSplice reports whether this process can splice from a pipe into a
// connected TCP socket, as the tcp path's splice mechanism does (Linux
// 2.6.17): nil, or an error wrapping [ErrNotSupported] and the errno (a
// seccomp filter typically answers EPERM or ENOSYS).
func HaveSplice() error { return spliceTest.result() }

// HaveVmsplice reports whether this process can vmsplice its own memory
// into a pipe and read back the same bytes (Linux 2.6.17): nil, or an error
// wrapping [ErrNotSupported] and the errno.
func HaveVmsplice() error { return vmspliceTest.result() }

// HaveIOURing reports whether this process can use io_uring as the unix
// and tcp paths do (Linux 5.19): set up a ring with IORING_FEAT_EXT_ARG and
// the SEND, RECV, SENDMSG and ASYNC_CANCEL operations. nil, or an error
// wrapping [ErrNotSupported] and the errno: ENOSYS under Docker's and
// containerd's default seccomp profiles, EPERM with
// kernel.io_uring_disabled=2 (or 1 without the io_uring_group).
func HaveIOURing() error { return iouringTest.result() }

// HaveSendZC reports whether this process can send with IORING_OP_SEND_ZC
// and have the kernel report whether it copied after all
// (IORING_SEND_ZC_REPORT_USAGE, Linux 6.2): nil, or an error wrapping
// [ErrNotSupported].
func HaveSendZC() error { return sendZCTest.result() }

// KernelVersion returns the kernel's release (uname -r), or "unknown".
func KernelVersion() string { return kernelVersion() }

// HaveSockmap reports whether this process may use the sockmap
// accelerator (bpf.Probe: bpffs, the program and maps, a redirected byte
// on loopback): nil, or an error wrapping [ErrNotSupported]. Linux 5.16
// is the version whose poll sees redirected messages, which the
// transport's reads wait for through the Go runtime's poller.
func HaveSockmap() error { return sockmapTest.result() }

// Reason names the errno in err as the reason label of
// rr_fallbacks_total: "EPERM", "EINVAL", "ENOSYS", "EOPNOTSUPP" (also
// ENOTSUP, the same number on Linux), or "other" for anything else,
// including nil.
func Reason(err error) string {
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

var (
	iouringTest     = newFeatureTest("io_uring", "5.19", probeIOURing)
	sendZCTest      = newFeatureTest("io_uring SEND_ZC", "6.2", probeSendZC)
	sockmapTest     = newFeatureTest("sockmap", "5.16", probeSockmap)
	unixTest        = newFeatureTest("AF_UNIX stream sockets", "", probeUnix)
	tcpTest         = newFeatureTest("TCP loopback", "", probeTCP)
	spliceTest      = newFeatureTest("splice", "2.6.17", probeSplice)
	vmspliceTest    = newFeatureTest("vmsplice", "2.6.17", probeVmsplice)
	setPipeSizeTest = newFeatureTest("F_SETPIPE_SZ", "2.6.35", probeSetPipeSize)
)

// opErrno wraps err, the errno that op returned, naming both:
// "vmsplice: operation not permitted (EPERM)".
func opErrno(op string, err error) error {
	return withErrnoName(fmt.Errorf("%s: %w", op, err))
}

// withErrnoName appends the name of the errno err wraps, if any: the
// kernel's messages spell it out ("operation not permitted") but do not
// name it, and the name is what the fallback metrics' reason says.
func withErrnoName(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return fmt.Errorf("%w (%s)", err, errnoName(errno))
	}
	return err
}
