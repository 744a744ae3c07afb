//go:build linux

package features

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

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

// KernelVersion's answer: the release uname reports.
var kernelVersion = sync.OnceValue(func() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
})

// refusalErrnos are the errnos by which the kernel or a sandbox refuses a
// mechanism rather than a transfer.
var refusalErrnos = []syscall.Errno{unix.EPERM, unix.EINVAL, unix.ENOSYS, unix.EOPNOTSUPP}

func isTransientErrno(err error) bool {
	for _, errno := range []syscall.Errno{unix.EMFILE, unix.ENFILE, unix.ENOMEM, unix.ENOBUFS, unix.EAGAIN, unix.EINTR, unix.EINPROGRESS, unix.ETIMEDOUT} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
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
	if err := HaveTCP(); err != nil {
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

// tcpULPs lists the TCP upper-layer protocols the kernel offers.
const tcpULPs = "/proc/sys/net/ipv4/tcp_available_ulp"

func probeKTLS() error {
	b, err := os.ReadFile(tcpULPs)
	if err != nil {
		return &UnsupportedFeatureError{Name: "kernel TLS", MinimumVersion: "4.13", Err: err}
	}
	if slices.Contains(strings.Fields(string(b)), "tls") {
		return nil
	}
	return &UnsupportedFeatureError{Name: "kernel TLS", MinimumVersion: "4.13",
		Err: fmt.Errorf("tls is not in %s (%q): the tls module is not loaded or not built", tcpULPs, strings.TrimSpace(string(b)))}
}
