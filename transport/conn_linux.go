//go:build linux

package transport

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// socketPaths reports whether the unix and tcp paths can run here: on
// Linux they can (each mechanism and accelerator is probed on its own).
func socketPaths() error { return nil }

// peeker tells whether an idle connection is still open, without waiting
// and without allocating.
type peeker struct {
	raw syscall.RawConn
	fn  func(fd uintptr) bool // p.peek, bound once
	buf [1]byte
	ok  bool
}

func (p *peeker) init(raw syscall.RawConn) {
	p.raw = raw
	p.fn = p.peek
}

func (p *peeker) alive() bool {
	p.ok = false
	err := p.raw.Read(p.fn)
	return p.ok && err == nil
}

// peek is alive's raw read callback.
func (p *peeker) peek(fd uintptr) bool {
	// unix.Recvfrom would allocate a sockaddr for every call.
	_, _, errno := unix.Syscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&p.buf[0])), 1, unix.MSG_PEEK|unix.MSG_DONTWAIT, 0, 0)
	p.ok = errno == unix.EAGAIN || errno == unix.EINTR
	return true
}
