//go:build !linux

package transport

import (
	"fmt"
	"io/fs"
	"net"
	"runtime"
	"syscall"
	"time"
)

// Off Linux only the memory path works: the socket paths, their
// mechanisms and accelerators are built on Linux system calls. NewPeer,
// ListenUnix and OpenSockmap say so with an error wrapping
// ErrNotSupported; a Server has nothing to serve.

var errNoSockets = fmt.Errorf("transport: the unix and tcp paths on %s: %w", runtime.GOOS, ErrNotSupported)

func socketPaths() error { return errNoSockets }

// ListenUnix fails: the unix path needs Linux.
func ListenUnix(path string, mode fs.FileMode, gid int) (net.Listener, error) {
	return nil, fmt.Errorf("listen unix %s: %w", path, errNoSockets)
}

type peeker struct{}

func (p *peeker) init(syscall.RawConn) {}
func (p *peeker) alive() bool          { return false }

func spliceRefused() error { return errNoSockets }

func (p *Peer) mechanismSender() sender                   { return &writevSender{mech: MechanismWritev} }
func (p *Peer) ringSender(_ *clientConn, s sender) sender { return s }

// connRing stands for the io_uring of a connection, which needs Linux.
type connRing struct{}

var errNoRing = fmt.Errorf("io_uring on %s: %w", runtime.GOOS, ErrNotSupported)

func newConnRing(syscall.RawConn, bool) (*connRing, error) { return nil, errNoRing }
func (cr *connRing) abort()                                {}
func (cr *connRing) close()                                {}
func (cr *connRing) recv([]byte, int, int, time.Duration) error {
	return errNoRing
}
func (cr *connRing) sendFrame([]byte, []byte, int, int, time.Duration) error {
	return errNoRing
}
