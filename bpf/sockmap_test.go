//go:build linux

package bpf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/roadrunner-wasm/roadrunner/internal/netns"
	"github.com/roadrunner-wasm/roadrunner/internal/privileged"
)

var pinDirs atomic.Uint64

// loadForTest loads a sockmap pinned under a directory of this test's own,
// closes it and removes the pins at cleanup, and skips strictly where BPF
// is refused.
func loadForTest(tb testing.TB) *Sockmap {
	tb.Helper()
	s := loadAt(tb, testPinDir())
	tb.Cleanup(func() {
		if err := s.Unpin(); err != nil {
			tb.Error(err)
		}
		if err := s.Close(); err != nil {
			tb.Error(err)
		}
	})
	return s
}

// testPinDir is a fresh pin directory of this test process.
func testPinDir() string {
	return filepath.Join(bpffsRoot, fmt.Sprintf("rr-test-%d-%d", os.Getpid(), pinDirs.Add(1)))
}

// loadAt loads the sockmap pinned under dir, and skips strictly where BPF
// is refused.
func loadAt(tb testing.TB, dir string) *Sockmap {
	tb.Helper()
	privileged.RequireRoot(tb)
	s, err := Load(&Options{PinDir: dir})
	if errors.Is(err, ErrNotSupported) {
		privileged.Skip(tb, err.Error())
	}
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// pair is two network namespaces joined by a veth: a is 198.18.0.1, b is
// 198.18.0.2.
type pair struct{ a, b *netns.NS }

func vethPair(tb testing.TB) pair {
	tb.Helper()
	a, b := netns.ForTest(tb, "bpfa"), netns.ForTest(tb, "bpfb")
	if err := netns.Veth(a, "198.18.0.1/24", b, "198.18.0.2/24"); err != nil {
		tb.Fatal(err)
	}
	return pair{a, b}
}

// connect returns both ends of a TCP connection from a to b.
func (p pair) connect(tb testing.TB) (client, server *net.TCPConn) {
	tb.Helper()
	ln, err := p.b.Listen("tcp4", "198.18.0.2:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			tb.Error(err)
		}
		accepted <- c
	}()
	c, err := p.a.DialContext(ctx, "tcp4", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		c.Close()
		tb.FailNow()
	}
	tb.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

// pattern returns n bytes that differ at every offset modulo 251 and by
// seed, so that a lost, repeated or reordered chunk shows.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i%251) ^ seed
	}
	return b
}

// exchange sends n patterned bytes each way at once, in writes of
// chunk bytes, and verifies both directions byte for byte.
func exchange(tb testing.TB, x, y net.Conn, n, chunk int) {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	x.SetDeadline(deadline)
	y.SetDeadline(deadline)
	one := func(from, to net.Conn, seed byte) error {
		want := pattern(n, seed)
		werr := make(chan error, 1)
		go func() {
			for off := 0; off < n; off += chunk {
				if _, err := from.Write(want[off:min(off+chunk, n)]); err != nil {
					werr <- err
					return
				}
			}
			werr <- nil
		}()
		got := make([]byte, n)
		_, rerr := io.ReadFull(to, got)
		if err := <-werr; err != nil {
			return fmt.Errorf("write: %w", err)
		}
		if rerr != nil {
			return fmt.Errorf("read: %w", rerr)
		}
		if i := firstDiff(got, want); i >= 0 {
			return fmt.Errorf("byte %d of %d: got %#x, want %#x", i, n, got[i], want[i])
		}
		return nil
	}
	errs := make(chan error, 2)
	go func() { errs <- one(x, y, 0x00) }()
	go func() { errs <- one(y, x, 0x5a) }()
	for range 2 {
		if err := <-errs; err != nil {
			tb.Fatal(err)
		}
	}
	x.SetDeadline(time.Time{})
	y.SetDeadline(time.Time{})
}

func firstDiff(a, b []byte) int {
	if bytes.Equal(a, b) {
		return -1
	}
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return len(a)
}

func stats(tb testing.TB, s *Sockmap) (msgs, n uint64) {
	tb.Helper()
	msgs, n, err := s.Stats()
	if err != nil {
		tb.Fatal(err)
	}
	return msgs, n
}

// addBoth adds both ends of a connection and checks that their keys are
// each other's reverse.
func addBoth(t *testing.T, s *Sockmap, c, srv *net.TCPConn) (kc, ks Key) {
	t.Helper()
	kc, err := s.Add(c)
	if err != nil {
		t.Fatal(err)
	}
	ks, err = s.Add(srv)
	if err != nil {
		t.Fatal(err)
	}
	if ks != kc.Reverse() || kc.Local != ks.Remote {
		t.Fatalf("keys %s and %s are not each other's reverse", kc, ks)
	}
	return kc, ks
}

func TestRedirect(t *testing.T) {
	s := loadForTest(t)
	p := vethPair(t)
	const size = 10 << 20

	c, srv := p.connect(t)
	kc, ks := addBoth(t, s, c, srv)
	exchange(t, c, srv, size, 64<<10)
	msgs, n := stats(t, s)
	t.Logf("redirected %d messages, %d bytes", msgs, n)
	if msgs == 0 || n < 2*size {
		t.Fatalf("redirected %d messages, %d bytes; want > 0 and >= %d", msgs, n, 2*size)
	}

	t.Run("small", func(t *testing.T) {
		m0, n0 := stats(t, s)
		exchange(t, c, srv, 1, 1)
		exchange(t, c, srv, 4099, 7)
		m1, n1 := stats(t, s)
		if m1-m0 < 2 || n1-n0 != 2*(1+4099) {
			t.Fatalf("redirected %d messages, %d bytes; want >= 2, %d bytes", m1-m0, n1-n0, 2*(1+4099))
		}
	})

	t.Run("peer not in map", func(t *testing.T) {
		c2, srv2 := p.connect(t)
		if _, err := s.Add(c2); err != nil {
			t.Fatal(err)
		}
		m0, _ := stats(t, s)
		exchange(t, c2, srv2, 1<<20, 32<<10)
		if m1, _ := stats(t, s); m1 != m0 {
			t.Fatalf("redirected %d messages of a socket whose peer is not in the map", m1-m0)
		}
	})

	t.Run("removed", func(t *testing.T) {
		if err := s.Remove(kc); err != nil {
			t.Fatal(err)
		}
		if err := s.Remove(ks); err != nil {
			t.Fatal(err)
		}
		if err := s.Remove(ks); err != nil {
			t.Fatalf("second remove: %v", err)
		}
		m0, _ := stats(t, s)
		exchange(t, c, srv, 1<<20, 32<<10)
		if m1, _ := stats(t, s); m1 != m0 {
			t.Fatalf("redirected %d messages after Remove", m1-m0)
		}
	})
}

// TestCloseLeavesMap checks that the kernel takes a closed socket out of
// the map.
func TestCloseLeavesMap(t *testing.T) {
	s := loadForTest(t)
	c, srv := vethPair(t).connect(t)
	kc, err := s.Add(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add(srv); err != nil {
		t.Fatal(err)
	}
	c.Close()
	var v uint64
	if err := s.objs.SockHash.Lookup(kc.raw(), &v); err == nil {
		t.Fatalf("closed socket %s still in the map", kc)
	}
}

func TestPinsShared(t *testing.T) {
	s := loadForTest(t)
	s2, err := Load(&Options{PinDir: s.PinDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	id := func(s *Sockmap) (uint32, uint32, uint32) {
		t.Helper()
		hi, err := s.objs.SockHash.Info()
		if err != nil {
			t.Fatal(err)
		}
		si, err := s.objs.RedirectStats.Info()
		if err != nil {
			t.Fatal(err)
		}
		pi, err := s.objs.RedirectPeer.Info()
		if err != nil {
			t.Fatal(err)
		}
		h, _ := hi.ID()
		st, _ := si.ID()
		p, _ := pi.ID()
		return uint32(h), uint32(st), uint32(p)
	}
	h1, st1, p1 := id(s)
	h2, st2, p2 := id(s2)
	if h1 != h2 || st1 != st2 || p1 != p2 {
		t.Fatalf("second Load: ids (map %d, stats %d, prog %d), want (%d, %d, %d)", h2, st2, p2, h1, st1, p1)
	}
	for _, name := range []string{pinSockHash, pinStats, pinProgram} {
		fi, err := os.Stat(filepath.Join(s.PinDir(), name))
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("pin %s: mode %v, want 0600", name, m)
		}
	}

	if err := s2.Unpin(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.PinDir()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("after Unpin: stat %s: %v, want not exist", s.PinDir(), err)
	}
	// A Load after Unpin makes new objects.
	s3, err := Load(&Options{PinDir: s.PinDir()})
	if err != nil {
		t.Fatal(err)
	}
	h3, _, _ := id(s3)
	s3.Unpin()
	s3.Close()
	if h3 == h1 {
		t.Fatalf("Load after Unpin reused map %d", h1)
	}
}

func TestNotBPFFS(t *testing.T) {
	privileged.RequireRoot(t)
	_, err := Load(&Options{PinDir: t.TempDir()})
	if !errors.Is(err, ErrNotSupported) {
		t.Fatalf("Load on a tmpfs directory: %v, want ErrNotSupported", err)
	}
	// One check covers bpf and internal/ring (docs/RATIONALE.md).
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Load on a tmpfs directory: %v, want it to match errors.ErrUnsupported", err)
	}
}

// TestBlockingReadSignal records what a blocking read(2) on a socket in
// the map returns when a signal (SIGURG, as the Go runtime sends for
// preemption) interrupts it: the issue measured EAGAIN where plain TCP
// restarts. Callers with blocking fds must retry both EAGAIN and EINTR;
// the test does, and checks that no byte is lost.
func TestBlockingReadSignal(t *testing.T) {
	s := loadForTest(t)
	c, srv := vethPair(t).connect(t)
	if _, err := s.Add(c); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add(srv); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Dup(connFD(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	// O_NONBLOCK belongs to the open file, shared with srv's fd; srv is not
	// used through the net package while it is cleared.
	if err := unix.SetNonblock(fd, false); err != nil {
		t.Fatal(err)
	}
	defer unix.SetNonblock(fd, true)

	const n = 1 << 20
	want := pattern(n, 0x33)
	tids := make(chan int, 1)
	type result struct {
		got           []byte
		eagain, eintr int
		err           error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		tids <- unix.Gettid()
		var r result
		buf := make([]byte, 64<<10)
		for len(r.got) < n {
			k, err := unix.Read(fd, buf)
			switch {
			case err == unix.EAGAIN:
				r.eagain++
				continue
			case err == unix.EINTR:
				r.eintr++
				continue
			case err != nil:
				r.err = err
			case k == 0:
				r.err = io.ErrUnexpectedEOF
			}
			if r.err != nil {
				break
			}
			r.got = append(r.got, buf[:k]...)
		}
		done <- r
	}()
	tid := <-tids
	for range 20 { // interrupt the read while it blocks
		time.Sleep(5 * time.Millisecond)
		unix.Tgkill(os.Getpid(), tid, unix.SIGURG)
	}
	if _, err := c.Write(want); err != nil {
		t.Fatal(err)
	}
	var r result
	select {
	case r = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("blocking read did not finish")
	}
	t.Logf("blocking read interrupted by SIGURG: %d EAGAIN, %d EINTR", r.eagain, r.eintr)
	if r.err != nil {
		t.Fatalf("read: %v", r.err)
	}
	if i := firstDiff(r.got, want); i >= 0 {
		t.Fatalf("byte %d of %d differs", i, n)
	}
}

func connFD(tb testing.TB, c syscall.Conn) int {
	tb.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		tb.Fatal(err)
	}
	var fd int
	if err := rc.Control(func(f uintptr) { fd = int(f) }); err != nil {
		tb.Fatal(err)
	}
	return fd
}

func TestProbe(t *testing.T) {
	privileged.RequireRoot(t)
	if err := Probe(); err != nil {
		if errors.Is(err, ErrNotSupported) {
			privileged.Skip(t, err.Error())
		}
		t.Fatal(err)
	}
}

// TestCloseLast checks that only the last Sockmap of a pin directory
// removes the pins, whichever closes first.
func TestCloseLast(t *testing.T) {
	dir := testPinDir()
	s1 := loadAt(t, dir)
	s2, err := Load(&Options{PinDir: dir})
	if err != nil {
		s1.Unpin()
		s1.Close()
		t.Fatal(err)
	}
	if unpinned, err := s1.CloseLast(); err != nil || unpinned {
		t.Fatalf("first CloseLast of two: unpinned %v, err %v; want false, nil", unpinned, err)
	}
	for _, name := range []string{pinSockHash, pinStats, pinProgram} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("pin %s gone while another Sockmap is open: %v", name, err)
		}
	}
	if unpinned, err := s2.CloseLast(); err != nil || !unpinned {
		t.Fatalf("last CloseLast: unpinned %v, err %v; want true, nil", unpinned, err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("after the last CloseLast: stat %s: %v, want not exist", dir, err)
	}
}

// TestCookie checks that the map answers, under each end's key, the
// cookie of that end's socket, and counts them.
func TestCookie(t *testing.T) {
	s := loadForTest(t)
	c, srv := vethPair(t).connect(t)
	kc, ks := addBoth(t, s, c, srv)
	for _, e := range []struct {
		k    Key
		conn syscall.Conn
	}{{kc, c}, {ks, srv}} {
		want, err := SocketCookie(e.conn)
		if err != nil {
			t.Fatal(err)
		}
		got, ok, err := s.Cookie(e.k)
		if err != nil || !ok || got != want {
			t.Fatalf("Cookie(%s) = %d, %v, %v; want %d, true, nil", e.k, got, ok, err, want)
		}
	}
	if n, err := s.Len(); err != nil || n != 2 {
		t.Fatalf("Len = %d, %v; want 2", n, err)
	}
	c.Close()
	srv.Close()
	if n, err := s.Len(); err != nil || n != 0 {
		t.Fatalf("Len after both closed = %d, %v; want 0", n, err)
	}
	if _, ok, err := s.Cookie(kc); err != nil || ok {
		t.Fatalf("Cookie of a closed socket: ok %v, err %v; want false, nil", ok, err)
	}
}
