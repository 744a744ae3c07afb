//go:build linux && giouring

package ring_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/pawelgaczynski/giouring"
	"golang.org/x/sys/unix"

	"github.com/roadrunner-wasm/roadrunner/internal/privileged"
	"github.com/roadrunner-wasm/roadrunner/internal/ring"
	"github.com/roadrunner-wasm/roadrunner/internal/ring/ringtest"
)

// These tests need -ldflags=-checklinkname=0 (giouring linknames
// syscall.munmap):
//
//	go test -tags giouring -ldflags=-checklinkname=0 ./internal/ring/...

func newGiouring(t *testing.T, o *ring.Options) *ring.Giouring {
	t.Helper()
	r, err := ring.NewGiouring(o)
	if err != nil {
		t.Fatalf("new giouring ring: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("close ring: %v", err)
		}
	})
	return r
}

func TestGiouring(t *testing.T) {
	ringtest.Run(t, newGiouring)
}

func TestGiouringNewInvalid(t *testing.T) {
	ring.LeakCheck(t)
	for _, flags := range []uint32{
		1 << 31, // unknown to the kernel
		1 << 10, // IORING_SETUP_SQE128: QueueExit would leak half the SQEs' mapping
		1 << 14, // IORING_SETUP_NO_MMAP
	} {
		r, err := ring.NewGiouring(&ring.Options{Flags: flags})
		if !errors.Is(err, unix.EINVAL) || r != nil {
			t.Fatalf("new with setup flags %#x: %v, %v; want EINVAL", flags, r, err)
		}
	}
}

func TestGiouringClamp(t *testing.T) {
	ring.LeakCheck(t)
	r := newGiouring(t, &ring.Options{Entries: 1 << 20})
	if k := r.SQSpace(); k <= 0 || k >= 1<<20 {
		t.Fatalf("SQSpace of a ring asking for 1<<20 entries: %d", k)
	}
	if r.Features()&ring.FeatExtArg == 0 || r.Features()&ring.FeatNoDrop == 0 {
		t.Fatalf("features %#x: EXT_ARG or NODROP missing on this kernel", r.Features())
	}
}

// gioTCPPair returns a connected loopback TCP pair; the receiving end
// times out after 5 s.
func gioTCPPair(t *testing.T) (int, int) {
	t.Helper()
	l, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(l)
	if err := unix.Bind(l, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(l, 1); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(l)
	if err != nil {
		t.Fatal(err)
	}
	c, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(c) })
	if err := unix.Connect(c, sa); err != nil {
		t.Fatal(err)
	}
	s, _, err := unix.Accept4(l, unix.SOCK_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(s) })
	tv := unix.NsecToTimeval(int64(5 * time.Second))
	if err := unix.SetsockoptTimeval(s, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	return c, s
}

// recvN reads n bytes from fd with recv(2).
func recvN(t *testing.T, fd, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	for got := 0; got < n; {
		k, _, err := unix.Recvfrom(fd, b[got:], 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil || k == 0 {
			t.Fatalf("recv after %d of %d bytes: %d, %v", got, n, k, err)
		}
		got += k
	}
	return b
}

// TestGiouringSendZCDefect: giouring's PrepareSendZC puts the address of
// the slice header in sqe->addr instead of the address of the data, so
// the kernel sends other memory of the process, and reports success.
// The test asserts that this backend's SendZC and SendZCFixed send the
// buffer's bytes, and logs whether raw PrepareSendZC still sends the
// wrong ones: if a giouring upgrade fixes it, the log says so and the
// workaround in giouring.go can go.
func TestGiouringSendZCDefect(t *testing.T) {
	ring.LeakCheck(t)
	r := newGiouring(t, nil)
	p, err := r.Probe()
	if err != nil {
		t.Fatal(err)
	}
	if !p.Supported(ring.OpSendZC) {
		privileged.Skip(t, "kernel lacks IORING_OP_SEND_ZC (Linux 6.0)")
	}
	data := bytes.Repeat([]byte("giouring SEND_ZC "), 16) // 272 bytes
	a, b := gioTCPPair(t)

	// This backend, plain and from a registered buffer at an offset.
	reg := make([]byte, 4096+len(data))
	copy(reg[100:], data)
	if err := r.RegisterBuffers([][]byte{reg}); err != nil {
		t.Fatal(err)
	}
	for _, fixed := range []bool{false, true} {
		o := ring.Op{UserData: 1}
		if fixed {
			err = r.SendZCFixed(o, a, reg[100:100+len(data)], unix.MSG_NOSIGNAL, 0, 0)
		} else {
			err = r.SendZC(o, a, data, unix.MSG_NOSIGNAL, 0)
		}
		if err != nil {
			t.Fatal(err)
		}
		cqes := make([]ring.CQE, 2)
		n, err := r.Wait(cqes, 2, 10*time.Second)
		if err != nil || n != 2 {
			t.Fatalf("fixed %v: send_zc completions %+v: %v", fixed, cqes[:n], err)
		}
		if cqes[0].Res != int32(len(data)) || cqes[0].Flags&ring.CQEFMore == 0 || cqes[1].Flags&ring.CQEFNotif == 0 {
			t.Fatalf("fixed %v: send_zc completions %+v, want res %d with CQEFMore, then a notification", fixed, cqes, len(data))
		}
		if got := recvN(t, b, len(data)); !bytes.Equal(got, data) {
			t.Fatalf("fixed %v: SendZC sent %q, want %q", fixed, got, data)
		}
	}
	if err := r.UnregisterBuffers(); err != nil {
		t.Fatal(err)
	}
	runtime.KeepAlive(reg)
	runtime.KeepAlive(data)

	// Raw giouring.
	g, err := giouring.CreateRing(4)
	if err != nil {
		t.Fatal(err)
	}
	defer g.QueueExit()
	sqe := g.GetSQE()
	sqe.PrepareSendZC(a, data, unix.MSG_NOSIGNAL, 0)
	sqe.UserData = 7
	if _, err := g.Submit(); err != nil {
		t.Fatal(err)
	}
	res := gioReap(t, g, 2)[0].Res
	runtime.KeepAlive(data)
	switch {
	case res < 0:
		t.Logf("giouring PrepareSendZC is still broken: the send failed with %v", syscall.Errno(-res))
	case int(res) != len(data):
		t.Logf("giouring PrepareSendZC is still broken: it sent %d bytes of a %d-byte buffer", res, len(data))
		recvN(t, b, int(res))
	default:
		if got := recvN(t, b, len(data)); bytes.Equal(got, data) {
			t.Logf("giouring PrepareSendZC sends the right bytes now: the SEND_ZC workaround in giouring.go can go")
		} else {
			t.Logf("giouring PrepareSendZC is still broken: it sent %d bytes of other memory (%q...) instead of the buffer", len(got), got[:16])
		}
	}
}

// gioReap reaps n completions from a raw giouring ring, retrying the
// EINTR its waits return when a signal arrives.
func gioReap(t *testing.T, g *giouring.Ring, n int) []giouring.CompletionQueueEvent {
	t.Helper()
	var out []giouring.CompletionQueueEvent
	deadline := time.Now().Add(10 * time.Second)
	for len(out) < n {
		ts := syscall.NsecToTimespec(int64(time.Until(deadline)))
		c, err := g.WaitCQETimeout(&ts)
		runtime.KeepAlive(&ts)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			t.Fatalf("raw giouring: wait for %d completions (have %d): %v", n, len(out), err)
		}
		out = append(out, *c)
		g.CQESeen(c)
	}
	return out
}

// TestGiouringSlotReuse: giouring's prepares do not reset the opcode
// flags union of the SQE slot they reuse (nor GetSQE the slot), so a
// request without flags of its own inherits those of the slot's previous
// request. This backend zeroes each SQE; the test runs, on a ring with a
// single SQ slot, the two sequences that fail with raw giouring, and logs
// whether raw giouring still fails them.
func TestGiouringSlotReuse(t *testing.T) {
	ring.LeakCheck(t)
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, _ := gioTCPPair(t)
	one := []byte("x")
	rb := make([]byte, 5)

	r := newGiouring(t, &ring.Options{Entries: 1})
	if k := r.SQSpace(); k != 1 {
		t.Fatalf("SQSpace of a 1-entry ring: %d", k)
	}
	cqes := make([]ring.CQE, 1)
	step := func(what string, prep func() error, want int32) {
		t.Helper()
		if err := prep(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if n, err := r.Wait(cqes, 1, 10*time.Second); n != 1 || err != nil {
			t.Fatalf("%s: %d, %v", what, n, err)
		}
		if cqes[0].Res != want {
			t.Fatalf("%s: res %d (%v), want %d", what, cqes[0].Res, cqes[0].Err(), want)
		}
	}
	// CancelFD sets cancel_flags ALL|FD = 3: as nop_flags, INJECT_RESULT|FILE.
	step("cancel all on stdin", func() error { return r.CancelFD(ring.Op{}, 0, ring.CancelAll) }, 0)
	step("nop after it", func() error { return r.Nop(ring.Op{}) }, 0)
	// MSG_DONTWAIT|MSG_NOSIGNAL = 0x4040: as rw_flags, RWF_ATOMIC and more.
	step("send", func() error { return r.Send(ring.Op{}, a, one, unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL) }, 1)
	step("read after it", func() error { return r.Read(ring.Op{}, int(f.Fd()), rb, 0) }, 5)
	if string(rb) != "hello" {
		t.Fatalf("read %q", rb)
	}

	// Raw giouring, the same sequences.
	g, err := giouring.CreateRing(1)
	if err != nil {
		t.Fatal(err)
	}
	defer g.QueueExit()
	raw := func(prep func(*giouring.SubmissionQueueEntry)) int32 {
		t.Helper()
		prep(g.GetSQE())
		if _, err := g.Submit(); err != nil {
			t.Fatal(err)
		}
		return gioReap(t, g, 1)[0].Res
	}
	raw(func(e *giouring.SubmissionQueueEntry) { e.PrepareCancelFd(0, giouring.AsyncCancelAll) })
	if res := raw(func(e *giouring.SubmissionQueueEntry) { e.PrepareNop() }); res < 0 {
		t.Logf("giouring still leaves stale flags: a NOP after CancelFD(ALL) in its slot fails with %v", syscall.Errno(-res))
	} else {
		t.Logf("giouring: a NOP after CancelFD(ALL) in its slot succeeds now")
	}
	raw(func(e *giouring.SubmissionQueueEntry) {
		e.PrepareSend(a, uintptr(unsafe.Pointer(&one[0])), 1, unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL)
	})
	if res := raw(func(e *giouring.SubmissionQueueEntry) {
		e.PrepareRead(int(f.Fd()), uintptr(unsafe.Pointer(&rb[0])), uint32(len(rb)), 0)
	}); res < 0 {
		t.Logf("giouring still leaves stale flags: a READ after a SEND with MSG_DONTWAIT|MSG_NOSIGNAL in its slot fails with %v", syscall.Errno(-res))
	} else {
		t.Logf("giouring: a READ after a SEND with flags in its slot succeeds now")
	}
	runtime.KeepAlive(one)
	runtime.KeepAlive(rb)
}
