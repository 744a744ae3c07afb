package tests

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// tcpSocket is one TCP socket of another process, as seen through a
// duplicate of its file descriptor.
type tcpSocket struct {
	local, peer   netip.AddrPort
	nodelay, cork bool
}

// tcpSockets lists the TCP sockets (IPv4) process pid holds, with their
// addresses and their TCP_NODELAY and TCP_CORK options: each descriptor is
// duplicated into this process with pidfd_getfd (Linux 5.6, and ptrace
// rights over pid: the tests run as root), read, and closed.
func tcpSockets(t *testing.T, pid int) []tcpSocket {
	t.Helper()
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		t.Fatalf("pidfd_open %d: %v", pid, err)
	}
	defer unix.Close(pidfd)
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	var out []tcpSocket
	for _, e := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name()))
		if err != nil || !strings.HasPrefix(link, "socket:") {
			continue
		}
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fd, err := unix.PidfdGetfd(pidfd, n, 0)
		if err != nil {
			continue // closed meanwhile
		}
		s, ok := readTCPSocket(t, fd)
		unix.Close(fd)
		if ok {
			out = append(out, s)
		}
	}
	return out
}

func readTCPSocket(t *testing.T, fd int) (tcpSocket, bool) {
	t.Helper()
	if typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE); err != nil || typ != unix.SOCK_STREAM {
		return tcpSocket{}, false
	}
	if dom, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN); err != nil || dom != unix.AF_INET {
		return tcpSocket{}, false
	}
	var s tcpSocket
	if sa, err := unix.Getsockname(fd); err == nil {
		if in, ok := sa.(*unix.SockaddrInet4); ok {
			s.local = netip.AddrPortFrom(netip.AddrFrom4(in.Addr), uint16(in.Port))
		}
	}
	if sa, err := unix.Getpeername(fd); err == nil { // a listener has none
		if in, ok := sa.(*unix.SockaddrInet4); ok {
			s.peer = netip.AddrPortFrom(netip.AddrFrom4(in.Addr), uint16(in.Port))
		}
	}
	nodelay, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY)
	if err != nil {
		t.Fatalf("TCP_NODELAY of %v: %v", s.local, err)
	}
	cork, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_CORK)
	if err != nil {
		t.Fatalf("TCP_CORK of %v: %v", s.local, err)
	}
	s.nodelay, s.cork = nodelay != 0, cork != 0
	return s, true
}

// TestTCPSockets checks what smallIsPrompt relies on: tcpSockets sees a
// socket with Nagle's algorithm on (TCP_NODELAY clear) or corked for what
// it is. Two connected sockets of this process, one of them so set.
func TestTCPSockets(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := c.(*net.TCPConn).SetNoDelay(false); err != nil {
		t.Fatal(err)
	}
	raw, err := s.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	if err := raw.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_CORK, 1) }); err != nil || serr != nil {
		t.Fatal(err, serr)
	}
	addr := func(a net.Addr) netip.AddrPort { return netip.MustParseAddrPort(a.String()) }
	want := map[netip.AddrPort]tcpSocket{
		addr(c.LocalAddr()): {peer: addr(s.LocalAddr()), nodelay: false, cork: false},
		addr(s.LocalAddr()): {peer: addr(c.LocalAddr()), nodelay: true, cork: true},
	}
	found := 0
	for _, got := range tcpSockets(t, os.Getpid()) {
		w, ok := want[got.local]
		if !ok || got.peer != w.peer {
			continue
		}
		found++
		if got.nodelay != w.nodelay || got.cork != w.cork {
			t.Errorf("%v: nodelay %v, cork %v; want %v, %v", got.local, got.nodelay, got.cork, w.nodelay, w.cork)
		}
	}
	if found != 2 {
		t.Errorf("found %d of the 2 connected sockets", found)
	}
}
