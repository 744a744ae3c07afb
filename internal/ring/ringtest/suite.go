//go:build linux

package ringtest

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/roadrunner-wasm/roadrunner/internal/privileged"
	"github.com/roadrunner-wasm/roadrunner/internal/ring"
)

// Ring is what the suite drives: the transport's [ring.Ring] and the
// rest of every backend's methods, which [ring.Native] documents.
type Ring interface {
	ring.Ring
	Nop(o ring.Op) error
	SendZCFixed(o ring.Op, fd int, b []byte, msgFlags int, zcFlags uint16, bufIndex uint16) error
	Read(o ring.Op, fd int, b []byte, off uint64) error
	Write(o ring.Op, fd int, b []byte, off uint64) error
	ReadFixed(o ring.Op, fd int, b []byte, off uint64, bufIndex uint16) error
	WriteFixed(o ring.Op, fd int, b []byte, off uint64, bufIndex uint16) error
	Splice(o ring.Op, fdIn int, offIn int64, fdOut int, offOut int64, n uint32, flags uint32) error
	LinkTimeout(o ring.Op, d time.Duration) error
	Cancel(o ring.Op, target uint64, flags uint32) error
	SQSpace() int
	RegisterBuffers(bufs [][]byte) error
	UnregisterBuffers() error
	Fd() int
}

// Run runs the conformance suite on the backend newRing makes. newRing
// makes a ring for t with options o (nil: the defaults), registers its
// Close with t.Cleanup and fails t if it cannot; R is the backend's type
// (*ring.Native, *ring.Giouring). The suite takes about a second, a few
// under -race.
func Run[R Ring](t *testing.T, newRing func(t *testing.T, o *ring.Options) R) {
	s := suite{newRing: func(t *testing.T, o *ring.Options) Ring { return newRing(t, o) }}
	t.Run("Nop", s.nop)
	t.Run("SendRecv", s.sendRecv)
	t.Run("SendMsg", s.sendMsg)
	t.Run("SendZC", func(t *testing.T) { s.sendZC(t, false, false) })
	t.Run("SendZCReportUsage", func(t *testing.T) { s.sendZC(t, false, true) })
	t.Run("SendZCFixed", func(t *testing.T) { s.sendZC(t, true, false) })
	t.Run("LinkedChain", s.linkedChain)
	t.Run("LinkFailure", s.linkFailure)
	t.Run("LinkTimeout", s.linkTimeout)
	t.Run("Cancel", s.cancel)
	t.Run("CancelFD", s.cancelFD)
	t.Run("ReadWrite", s.readWrite)
	t.Run("ReadWriteFixed", s.readWriteFixed)
	t.Run("Splice", s.splice)
	t.Run("WaitTimeout", s.waitTimeout)
	t.Run("WaitReady", s.waitReady)
	t.Run("WaitSignals", s.waitSignals)
	t.Run("QueueFull", s.queueFull)
	t.Run("CQOverflow", s.cqOverflow)
	t.Run("Probe", s.probe)
	t.Run("Close", s.close)
	t.Run("Hammer", s.hammer)
}

type suite struct {
	newRing func(t *testing.T, o *ring.Options) Ring
}

// patience bounds every wait of the suite: a broken backend fails a
// subtest instead of hanging the run.
const patience = 20 * time.Second

// must fails t on err.
func must(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// reap waits for exactly n completions and returns them.
func reap(t testing.TB, r Ring, n int) []ring.CQE {
	t.Helper()
	cqes := make([]ring.CQE, n)
	got := 0
	deadline := time.Now().Add(patience)
	for got < n {
		k, err := r.Wait(cqes[got:], n-got, time.Until(deadline))
		got += k
		if err != nil {
			t.Fatalf("wait for %d completions (have %d: %+v): %v", n, got, cqes[:got], err)
		}
	}
	return cqes
}

// byUserData indexes cqes by user data; it fails t on a duplicate.
func byUserData(t testing.TB, cqes []ring.CQE) map[uint64]ring.CQE {
	t.Helper()
	m := make(map[uint64]ring.CQE, len(cqes))
	for _, c := range cqes {
		if _, dup := m[c.UserData]; dup {
			t.Fatalf("two completions with user data %d: %+v", c.UserData, cqes)
		}
		m[c.UserData] = c
	}
	return m
}

// quiet checks that nothing more completes within d.
func quiet(t testing.TB, r Ring, d time.Duration) {
	t.Helper()
	var cqes [4]ring.CQE
	n, err := r.Wait(cqes[:], 1, d)
	if n != 0 || !errors.Is(err, ring.ErrTimeout) {
		t.Fatalf("unexpected completions %+v (err %v)", cqes[:n], err)
	}
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// equal fails t unless got equals want, naming the first difference.
func equal(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	if len(got) != len(want) {
		t.Fatalf("%s: got %d bytes, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: byte %d of %d is %#x, want %#x", what, i, len(want), got[i], want[i])
		}
	}
}

// track closes fds when t ends.
func track(t testing.TB, fds ...int) {
	t.Cleanup(func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	})
}

func unixPair(t testing.TB) (int, int) {
	t.Helper()
	p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	must(t, "socketpair", err)
	track(t, p[0], p[1])
	return p[0], p[1]
}

func tcpPair(t testing.TB) (int, int) {
	t.Helper()
	l, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	must(t, "socket", err)
	defer unix.Close(l)
	must(t, "bind", unix.Bind(l, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	must(t, "listen", unix.Listen(l, 1))
	sa, err := unix.Getsockname(l)
	must(t, "getsockname", err)
	c, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	must(t, "socket", err)
	track(t, c)
	must(t, "connect", unix.Connect(c, sa))
	s, _, err := unix.Accept4(l, unix.SOCK_CLOEXEC)
	must(t, "accept", err)
	track(t, s)
	return c, s
}

func pipe(t testing.TB) (int, int) {
	t.Helper()
	var p [2]int
	must(t, "pipe", unix.Pipe2(p[:], unix.O_CLOEXEC))
	track(t, p[0], p[1])
	return p[0], p[1]
}

// readFull reads len(b) bytes from fd with plain read(2).
func readFull(t testing.TB, fd int, b []byte) {
	t.Helper()
	for n := 0; n < len(b); {
		k, err := unix.Read(fd, b[n:])
		if err == unix.EINTR {
			continue
		}
		must(t, "read", err)
		if k == 0 {
			t.Fatalf("read: EOF after %d of %d bytes", n, len(b))
		}
		n += k
	}
}

// receiver reads len(buf) bytes from fd with Recv requests of user data
// ud, MSG_WAITALL, resubmitting after short results.
type receiver struct {
	fd   int
	ud   uint64
	buf  []byte
	n    int
	busy bool
}

func (rc *receiver) arm(t testing.TB, r Ring) {
	t.Helper()
	if rc.busy || rc.n == len(rc.buf) {
		return
	}
	must(t, "prepare recv", r.Recv(ring.Op{UserData: rc.ud}, rc.fd, rc.buf[rc.n:], unix.MSG_WAITALL))
	rc.busy = true
}

func (rc *receiver) complete(t testing.TB, c ring.CQE) {
	t.Helper()
	rc.busy = false
	if c.Res < 0 {
		t.Fatalf("recv after %d of %d bytes: %v", rc.n, len(rc.buf), c.Err())
	}
	if c.Res == 0 && rc.n < len(rc.buf) {
		t.Fatalf("recv: EOF after %d of %d bytes", rc.n, len(rc.buf))
	}
	rc.n += int(c.Res)
}

func (rc *receiver) done() bool { return rc.n == len(rc.buf) && !rc.busy }

// drive reaps completions, passing each to handle, until done.
func drive(t testing.TB, r Ring, handle func(ring.CQE), done func() bool) {
	t.Helper()
	cqes := make([]ring.CQE, 16)
	deadline := time.Now().Add(patience)
	for !done() {
		n, err := r.Wait(cqes, 1, time.Until(deadline))
		for _, c := range cqes[:n] {
			handle(c)
		}
		if err != nil {
			t.Fatalf("wait: %v", err)
		}
	}
}

// transfer sends data from sfd to rfd through r, Send and Recv both in
// flight on the one ring, resubmitting short sends.
func transfer(t testing.TB, r Ring, sfd, rfd int, data []byte) {
	t.Helper()
	const udSend, udRecv = 1, 2
	got := make([]byte, len(data))
	if len(data) == 0 {
		// An empty send is valid, completes with 0 and sends nothing.
		// (An empty receive on a stream socket waits for a byte.)
		must(t, "prepare send", r.Send(ring.Op{UserData: udSend}, sfd, data, unix.MSG_NOSIGNAL))
		if c := reap(t, r, 1)[0]; c.Res != 0 {
			t.Fatalf("empty send: %+v", c)
		}
		var b [1]byte
		if n, _, err := unix.Recvfrom(rfd, b[:], unix.MSG_DONTWAIT); err != unix.EAGAIN {
			t.Fatalf("after an empty send, the peer reads %d bytes, %v", n, err)
		}
		return
	}
	rc := &receiver{fd: rfd, ud: udRecv, buf: got}
	sent, sending := 0, false
	arm := func() {
		if !sending && sent < len(data) {
			must(t, "prepare send", r.Send(ring.Op{UserData: udSend}, sfd, data[sent:], unix.MSG_NOSIGNAL))
			sending = true
		}
		rc.arm(t, r)
	}
	arm()
	drive(t, r, func(c ring.CQE) {
		switch c.UserData {
		case udSend:
			sending = false
			if c.Res <= 0 {
				t.Fatalf("send after %d of %d bytes: res %d", sent, len(data), c.Res)
			}
			sent += int(c.Res)
		case udRecv:
			rc.complete(t, c)
		default:
			t.Fatalf("completion of unknown request %+v", c)
		}
		arm()
	}, func() bool { return sent == len(data) && !sending && rc.done() })
	equal(t, "received", got, data)
}

func (s suite) nop(t *testing.T) {
	r := s.newRing(t, nil)
	const ud = 0xdeadbeefcafef00d
	must(t, "prepare nop", r.Nop(ring.Op{UserData: ud}))
	n, err := r.Submit()
	must(t, "submit", err)
	if n != 1 {
		t.Fatalf("submit took %d, want 1", n)
	}
	c := reap(t, r, 1)[0]
	if c != (ring.CQE{UserData: ud}) {
		t.Fatalf("nop completion %+v, want user data %#x, res 0, flags 0", c, uint64(ud))
	}

	// A full queue of them, completed through Wait's own submit.
	k := r.SQSpace()
	if k < ring.DefaultEntries {
		t.Fatalf("SQSpace %d of a default ring, want >= %d", k, ring.DefaultEntries)
	}
	for i := range k {
		must(t, "prepare nop", r.Nop(ring.Op{UserData: uint64(i) + 100}))
	}
	m := byUserData(t, reap(t, r, k))
	for i := range k {
		if c, ok := m[uint64(i)+100]; !ok || c.Res != 0 {
			t.Fatalf("nop %d: %+v, %v", i, c, ok)
		}
	}
	quiet(t, r, 10*time.Millisecond)
}

func (s suite) sendRecv(t *testing.T) {
	pairs := []struct {
		name string
		make func(testing.TB) (int, int)
	}{{"unix", unixPair}, {"tcp", tcpPair}}
	sizes := []int{0, 1, 4 << 10, 1 << 20, 8 << 20}
	for _, p := range pairs {
		for _, size := range sizes {
			t.Run(fmt.Sprintf("%s/%d", p.name, size), func(t *testing.T) {
				r := s.newRing(t, nil)
				a, b := p.make(t)
				data := random(size)
				transfer(t, r, a, b, data)
				transfer(t, r, b, a, data) // and back
				quiet(t, r, time.Millisecond)
			})
		}
	}
}

func (s suite) sendMsg(t *testing.T) {
	r := s.newRing(t, nil)
	a, b := unixPair(t)
	p1, p2 := random(3000), random(70000)
	iov := make([]unix.Iovec, 2)
	iov[0].Base, iov[1].Base = &p1[0], &p2[0]
	iov[0].SetLen(len(p1))
	iov[1].SetLen(len(p2))
	msg := &unix.Msghdr{Iov: &iov[0]}
	msg.SetIovlen(len(iov))

	want := append(append([]byte{}, p1...), p2...)
	rc := &receiver{fd: b, ud: 2, buf: make([]byte, len(want))}
	must(t, "prepare sendmsg", r.SendMsg(ring.Op{UserData: 1}, a, msg, unix.MSG_WAITALL|unix.MSG_NOSIGNAL))
	rc.arm(t, r)
	sent := false
	drive(t, r, func(c ring.CQE) {
		switch c.UserData {
		case 1:
			if int(c.Res) != len(want) {
				t.Fatalf("sendmsg: res %d, want %d", c.Res, len(want))
			}
			sent = true
		case 2:
			rc.complete(t, c)
			rc.arm(t, r)
		default:
			t.Fatalf("completion of unknown request %+v", c)
		}
	}, func() bool { return sent && rc.done() })
	runtime.KeepAlive(msg)
	runtime.KeepAlive(iov)
	equal(t, "received", rc.buf, want)
}

// requireOp skips t (privileged.Skip) unless the kernel supports op.
func requireOp(t *testing.T, r Ring, op uint8, name, version string) {
	t.Helper()
	p, err := r.Probe()
	must(t, "probe", err)
	if !p.Supported(op) {
		privileged.Skip(t, fmt.Sprintf("kernel lacks %s (Linux %s)", name, version))
	}
}

// sendZC sends 256 KiB with SEND_ZC over TCP loopback and checks the bytes
// received, the result (CQEFMore) and its one notification (CQEFNotif).
func (s suite) sendZC(t *testing.T, fixed, report bool) {
	r := s.newRing(t, nil)
	requireOp(t, r, ring.OpSendZC, "IORING_OP_SEND_ZC", "6.0")
	a, b := tcpPair(t)
	const size = 256 << 10
	data := random(size)
	buf := data
	if fixed {
		// b sits at an offset inside the registered buffer, so that a
		// backend sending from the buffer's start, or from anywhere but
		// &b[0], sends the wrong bytes.
		reg := random(size + 8192)
		buf = reg[4097 : 4097+size]
		copy(buf, data)
		must(t, "register buffers", r.RegisterBuffers([][]byte{random(4096), reg}))
		t.Cleanup(func() { r.UnregisterBuffers() })
	}
	var zc uint16
	if report {
		zc |= ring.SendZCReportUsage
	}
	const udSend, udRecv = 1, 2
	var err error
	if fixed {
		err = r.SendZCFixed(ring.Op{UserData: udSend}, a, buf, unix.MSG_WAITALL|unix.MSG_NOSIGNAL, zc, 1)
	} else {
		err = r.SendZC(ring.Op{UserData: udSend}, a, buf, unix.MSG_WAITALL|unix.MSG_NOSIGNAL, zc)
	}
	must(t, "prepare send_zc", err)
	rc := &receiver{fd: b, ud: udRecv, buf: make([]byte, size)}
	rc.arm(t, r)

	var result, notif []ring.CQE
	drive(t, r, func(c ring.CQE) {
		switch {
		case c.UserData == udRecv:
			rc.complete(t, c)
			rc.arm(t, r)
		case c.UserData == udSend && c.Flags&ring.CQEFNotif != 0:
			if len(result) == 0 {
				t.Fatalf("send_zc notification %+v before its result", c)
			}
			notif = append(notif, c)
		case c.UserData == udSend:
			if report && c.Res == -int32(unix.EINVAL) {
				privileged.Skip(t, "kernel lacks IORING_SEND_ZC_REPORT_USAGE (Linux 6.2)")
			}
			if c.Res < 0 {
				t.Fatalf("send_zc: %v", c.Err())
			}
			result = append(result, c)
		default:
			t.Fatalf("completion of unknown request %+v", c)
		}
	}, func() bool { return rc.done() && len(notif) > 0 })

	if len(result) != 1 || result[0].Res != size || result[0].Flags&ring.CQEFMore == 0 {
		t.Fatalf("send_zc results %+v, want one with res %d and CQEFMore", result, size)
	}
	quiet(t, r, 20*time.Millisecond) // exactly one notification
	if len(notif) != 1 || notif[0].Flags&ring.CQEFMore != 0 {
		t.Fatalf("send_zc notifications %+v, want one without CQEFMore", notif)
	}
	switch {
	case report && notif[0].Res&ring.NotifUsageZCCopied == 0:
		// On loopback the kernel copies the pages for the receiver.
		t.Fatalf("notification res %#x over loopback: NotifUsageZCCopied not set", uint32(notif[0].Res))
	case !report && notif[0].Res != 0:
		t.Fatalf("notification res %#x without SendZCReportUsage, want 0", uint32(notif[0].Res))
	}
	runtime.KeepAlive(buf)
	equal(t, "received", rc.buf, data)
}

// linkedChain sends an 8 MiB pattern of counters as 8 linked 1 MiB sends.
func (s suite) linkedChain(t *testing.T) {
	r := s.newRing(t, nil)
	a, b := tcpPair(t)
	const part, parts = 1 << 20, 8
	data := make([]byte, part*parts)
	for i := 0; i < len(data); i += 8 {
		binary.LittleEndian.PutUint64(data[i:], uint64(i/8))
	}
	for i := range parts {
		o := ring.Op{UserData: uint64(i + 1)}
		if i < parts-1 {
			o.Flags = ring.SQEIOLink
		}
		must(t, "prepare send", r.Send(o, a, data[i*part:(i+1)*part], unix.MSG_WAITALL|unix.MSG_NOSIGNAL))
	}
	rc := &receiver{fd: b, ud: 100, buf: make([]byte, len(data))}
	rc.arm(t, r)
	var order []uint64
	drive(t, r, func(c ring.CQE) {
		if c.UserData == rc.ud {
			rc.complete(t, c)
			rc.arm(t, r)
			return
		}
		if c.Res != part {
			t.Fatalf("linked send %d: res %d, want %d", c.UserData, c.Res, part)
		}
		order = append(order, c.UserData)
	}, func() bool { return rc.done() && len(order) == parts })
	for i, ud := range order {
		if ud != uint64(i+1) {
			t.Fatalf("linked sends completed in order %v", order)
		}
	}
	runtime.KeepAlive(data) // the kernel read it until the last send completed
	for i := 0; i < len(rc.buf); i += 8 {
		if v := binary.LittleEndian.Uint64(rc.buf[i:]); v != uint64(i/8) {
			t.Fatalf("word %d of the pattern is %d", i/8, v)
		}
	}
}

func (s suite) linkFailure(t *testing.T) {
	r := s.newRing(t, nil)
	a, _ := unixPair(t)
	must(t, "shutdown", unix.Shutdown(a, unix.SHUT_WR))
	data := random(100)
	must(t, "prepare send", r.Send(ring.Op{UserData: 1, Flags: ring.SQEIOLink}, a, data, unix.MSG_NOSIGNAL))
	must(t, "prepare nop", r.Nop(ring.Op{UserData: 2}))
	m := byUserData(t, reap(t, r, 2))
	runtime.KeepAlive(data)
	if m[1].Res >= 0 {
		t.Fatalf("send on a shut-down socket: res %d, want an error", m[1].Res)
	}
	if !errors.Is(m[2].Err(), unix.ECANCELED) {
		t.Fatalf("nop linked to a failed send: res %d, want -ECANCELED", m[2].Res)
	}
}

func (s suite) linkTimeout(t *testing.T) {
	r := s.newRing(t, nil)
	a, b := unixPair(t)
	buf := make([]byte, 64)

	// Nothing arrives: the timeout cancels the receive.
	const d = 50 * time.Millisecond
	start := time.Now()
	must(t, "prepare recv", r.Recv(ring.Op{UserData: 1, Flags: ring.SQEIOLink}, b, buf, 0))
	must(t, "prepare link timeout", r.LinkTimeout(ring.Op{UserData: 2}, d))
	m := byUserData(t, reap(t, r, 2))
	if el := time.Since(start); el < d {
		t.Fatalf("linked timeout of %v fired after %v", d, el)
	}
	if err := m[1].Err(); !errors.Is(err, unix.ECANCELED) && !errors.Is(err, unix.EINTR) {
		t.Fatalf("timed-out recv: res %d, want -ECANCELED or -EINTR", m[1].Res)
	}
	if !errors.Is(m[2].Err(), unix.ETIME) {
		t.Fatalf("fired link timeout: res %d, want -ETIME", m[2].Res)
	}

	// Data arrives: the receive completes, the timeout is cancelled.
	_, err := unix.Write(a, []byte("hello"))
	must(t, "write", err)
	must(t, "prepare recv", r.Recv(ring.Op{UserData: 3, Flags: ring.SQEIOLink}, b, buf, 0))
	must(t, "prepare link timeout", r.LinkTimeout(ring.Op{UserData: 4}, 10*time.Second))
	m = byUserData(t, reap(t, r, 2))
	if m[3].Res != 5 || string(buf[:5]) != "hello" {
		t.Fatalf("recv: res %d, %q", m[3].Res, buf[:max(m[3].Res, 0)])
	}
	if !errors.Is(m[4].Err(), unix.ECANCELED) {
		t.Fatalf("unfired link timeout: res %d, want -ECANCELED", m[4].Res)
	}
}

func (s suite) cancel(t *testing.T) {
	r := s.newRing(t, nil)
	_, b := unixPair(t)
	buf := make([]byte, 64)
	must(t, "prepare recv", r.Recv(ring.Op{UserData: 1}, b, buf, 0))
	_, err := r.Submit()
	must(t, "submit", err)
	must(t, "prepare cancel", r.Cancel(ring.Op{UserData: 2}, 1, 0))
	m := byUserData(t, reap(t, r, 2))
	runtime.KeepAlive(buf) // the kernel could write it until the recv completed
	if !errors.Is(m[1].Err(), unix.ECANCELED) || m[2].Res != 0 {
		t.Fatalf("cancelled recv %+v, cancel %+v: want -ECANCELED and 0", m[1], m[2])
	}
	must(t, "prepare cancel", r.Cancel(ring.Op{UserData: 3}, 1, 0))
	if c := reap(t, r, 1)[0]; !errors.Is(c.Err(), unix.ENOENT) {
		t.Fatalf("cancel of nothing: %+v, want -ENOENT", c)
	}
}

func (s suite) cancelFD(t *testing.T) {
	r := s.newRing(t, nil)
	requireOp(t, r, ring.OpSendZC, "IORING_ASYNC_CANCEL_FD", "5.19") // SEND_ZC (6.0) implies it
	_, b := unixPair(t)
	bufs := make([][]byte, 3)
	for i := range bufs {
		bufs[i] = make([]byte, 64)
		must(t, "prepare recv", r.Recv(ring.Op{UserData: uint64(i + 1)}, b, bufs[i], 0))
	}
	_, err := r.Submit()
	must(t, "submit", err)
	must(t, "prepare cancel", r.CancelFD(ring.Op{UserData: 9}, b, ring.CancelAll))
	m := byUserData(t, reap(t, r, 4))
	runtime.KeepAlive(bufs)
	for i := range bufs {
		if !errors.Is(m[uint64(i+1)].Err(), unix.ECANCELED) {
			t.Fatalf("recv %d: %+v, want -ECANCELED", i+1, m[uint64(i+1)])
		}
	}
	if m[9].Res != 3 {
		t.Fatalf("cancel of all on fd: res %d, want 3", m[9].Res)
	}
}

func tempFile(t *testing.T) int {
	t.Helper()
	fd, err := unix.Open(filepath.Join(t.TempDir(), "f"), unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	must(t, "open", err)
	track(t, fd)
	return fd
}

func (s suite) readWrite(t *testing.T) {
	r := s.newRing(t, nil)
	fd := tempFile(t)
	data := random(64 << 10)
	must(t, "prepare write", r.Write(ring.Op{UserData: 1}, fd, data, 0))
	if c := reap(t, r, 1)[0]; int(c.Res) != len(data) {
		t.Fatalf("write: %+v", c)
	}
	got := make([]byte, len(data))
	must(t, "prepare read", r.Read(ring.Op{UserData: 2}, fd, got[:1000], 5000))
	if c := reap(t, r, 1)[0]; c.Res != 1000 {
		t.Fatalf("read at 5000: %+v", c)
	}
	equal(t, "read at 5000", got[:1000], data[5000:6000])
	// ^0: at the file position, which pwrite left at 0.
	must(t, "prepare read", r.Read(ring.Op{UserData: 3}, fd, got, ^uint64(0)))
	if c := reap(t, r, 1)[0]; int(c.Res) != len(data) {
		t.Fatalf("read at the file position: %+v", c)
	}
	equal(t, "read", got, data)
}

func (s suite) readWriteFixed(t *testing.T) {
	r := s.newRing(t, nil)
	fd := tempFile(t)
	const size = 64 << 10
	bufs := [][]byte{make([]byte, size), make([]byte, size)}
	must(t, "register buffers", r.RegisterBuffers(bufs))
	data := random(size)
	copy(bufs[0], data)
	must(t, "prepare write", r.WriteFixed(ring.Op{UserData: 1}, fd, bufs[0], 0, 0))
	if c := reap(t, r, 1)[0]; c.Res != size {
		t.Fatalf("write fixed: %+v", c)
	}
	must(t, "prepare read", r.ReadFixed(ring.Op{UserData: 2}, fd, bufs[1], 0, 1))
	if c := reap(t, r, 1)[0]; c.Res != size {
		t.Fatalf("read fixed: %+v", c)
	}
	equal(t, "read fixed", bufs[1], data)

	// A view inside a registered buffer, not at its start.
	clear(bufs[1])
	copy(bufs[0][4096:8192], random(4096))
	must(t, "prepare write", r.WriteFixed(ring.Op{UserData: 3}, fd, bufs[0][4096:8192], 4096, 0))
	if c := reap(t, r, 1)[0]; c.Res != 4096 {
		t.Fatalf("write fixed at 4096: %+v", c)
	}
	must(t, "prepare read", r.ReadFixed(ring.Op{UserData: 4}, fd, bufs[1][100:100+4096], 4096, 1))
	if c := reap(t, r, 1)[0]; c.Res != 4096 {
		t.Fatalf("read fixed at 4096: %+v", c)
	}
	equal(t, "read fixed at 4096", bufs[1][100:100+4096], bufs[0][4096:8192])
	must(t, "unregister buffers", r.UnregisterBuffers())

	// Fixed requests fail once the buffers are unregistered.
	must(t, "prepare read", r.ReadFixed(ring.Op{UserData: 5}, fd, bufs[1], 0, 1))
	if c := reap(t, r, 1)[0]; c.Res >= 0 {
		t.Fatalf("read fixed after unregister: %+v, want an error", c)
	}
	runtime.KeepAlive(bufs)
}

func (s suite) splice(t *testing.T) {
	r := s.newRing(t, nil)
	a, b := unixPair(t)
	pr, pw := pipe(t)
	const size = 32 << 10

	spliceAll := func(in, out int) {
		t.Helper()
		for n := 0; n < size; {
			must(t, "prepare splice", r.Splice(ring.Op{UserData: 1}, in, -1, out, -1, uint32(size-n), 0))
			c := reap(t, r, 1)[0]
			if c.Res <= 0 {
				t.Fatalf("splice after %d of %d bytes: %+v", n, size, c)
			}
			n += int(c.Res)
		}
	}

	// Pipe to socket.
	data := random(size)
	_, err := unix.Write(pw, data)
	must(t, "write pipe", err)
	spliceAll(pr, a)
	got := make([]byte, size)
	readFull(t, b, got)
	equal(t, "pipe to socket", got, data)

	// Socket to pipe.
	data = random(size)
	_, err = unix.Write(a, data)
	must(t, "write socket", err)
	spliceAll(b, pw)
	readFull(t, pr, got)
	equal(t, "socket to pipe", got, data)
}

func (s suite) waitTimeout(t *testing.T) {
	r := s.newRing(t, nil)
	var cqes [4]ring.CQE
	for _, d := range []time.Duration{time.Millisecond, 30 * time.Millisecond} {
		start := time.Now()
		n, err := r.Wait(cqes[:], 1, d)
		el := time.Since(start)
		if n != 0 || !errors.Is(err, ring.ErrTimeout) {
			t.Fatalf("wait %v on an idle ring: %d, %v; want 0, ErrTimeout", d, n, err)
		}
		if el < d {
			t.Fatalf("wait %v returned after %v", d, el)
		}
	}

	// Some completions, fewer than min.
	must(t, "prepare nop", r.Nop(ring.Op{UserData: 7}))
	n, err := r.Wait(cqes[:], 2, 10*time.Millisecond)
	if n != 1 || cqes[0].UserData != 7 || !errors.Is(err, ring.ErrTimeout) {
		t.Fatalf("wait for 2 with 1 ready: %d %+v, %v; want 1, ErrTimeout", n, cqes[:n], err)
	}
}

func (s suite) waitReady(t *testing.T) {
	r := s.newRing(t, nil)
	var cqes [8]ring.CQE
	if n, err := r.Wait(cqes[:], 0, 0); n != 0 || err != nil {
		t.Fatalf("wait(min 0) on an idle ring: %d, %v", n, err)
	}
	_, b := unixPair(t)
	buf := make([]byte, 64)
	must(t, "prepare recv", r.Recv(ring.Op{UserData: 99}, b, buf, 0))
	for i := range 3 {
		must(t, "prepare nop", r.Nop(ring.Op{UserData: uint64(i + 1)}))
	}
	start := time.Now()
	n, err := r.Wait(cqes[:], 0, 0)
	must(t, "wait(min 0)", err)
	if el := time.Since(start); el > time.Second {
		t.Fatalf("wait(min 0) took %v", el)
	}
	if n != 3 {
		t.Fatalf("wait(min 0): %d completions %+v, want the 3 nops", n, cqes[:n])
	}
	for _, c := range cqes[:n] {
		if c.UserData == 99 {
			t.Fatalf("wait(min 0) reaped the pending recv: %+v", c)
		}
	}
	must(t, "prepare cancel", r.Cancel(ring.Op{UserData: 100}, 99, 0))
	byUserData(t, reap(t, r, 2))
	runtime.KeepAlive(buf)
	// A wait with min < len(cqes) returns what is there, not more.
	for i := range 2 {
		must(t, "prepare nop", r.Nop(ring.Op{UserData: uint64(i + 1)}))
	}
	if n, err := r.Wait(cqes[:1], 1, time.Second); n != 1 || err != nil {
		t.Fatalf("wait(1 of 1): %d, %v", n, err)
	}
	if n, err := r.Wait(cqes[:], 1, time.Second); n != 1 || err != nil {
		t.Fatalf("wait(1 of 8) with 1 left: %d, %v", n, err)
	}
}

// waitSignals interrupts Wait with signals (SIGURG, which Go's runtime
// uses for preemption and ignores otherwise) sent to the very thread that
// waits: they must not end the wait.
func (s suite) waitSignals(t *testing.T) {
	r := s.newRing(t, nil)
	a, b := unixPair(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	pid, tid := unix.Getpid(), unix.Gettid()
	stop := make(chan struct{})
	var sent int
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Microsecond):
				if unix.Tgkill(pid, tid, unix.SIGURG) == nil {
					sent++
				}
			}
		}
	})
	defer func() {
		close(stop)
		wg.Wait()
		if sent == 0 {
			t.Error("no signal sent")
		}
	}()

	var cqes [2]ring.CQE
	const d = 100 * time.Millisecond
	start := time.Now()
	n, err := r.Wait(cqes[:], 1, d)
	if el := time.Since(start); n != 0 || !errors.Is(err, ring.ErrTimeout) || el < d {
		t.Fatalf("wait %v under signals: %d, %v after %v; want 0, ErrTimeout after %v", d, n, err, el, d)
	}

	// No timeout: only the completion ends the wait.
	buf := make([]byte, 5)
	must(t, "prepare recv", r.Recv(ring.Op{UserData: 1}, b, buf, unix.MSG_WAITALL))
	timer := time.AfterFunc(d, func() { unix.Write(a, []byte("hello")) })
	defer timer.Stop()
	start = time.Now()
	n, err = r.Wait(cqes[:], 1, 0)
	if el := time.Since(start); n != 1 || err != nil || cqes[0].Res != 5 || el < d/2 {
		t.Fatalf("wait under signals: %d %+v, %v after %v", n, cqes[:n], err, el)
	}
	equal(t, "received", buf, []byte("hello"))
}

func (s suite) queueFull(t *testing.T) {
	r := s.newRing(t, &ring.Options{Entries: 4})
	if k := r.SQSpace(); k != 4 {
		t.Fatalf("SQSpace of a 4-entry ring: %d", k)
	}
	for i := range 4 {
		must(t, "prepare nop", r.Nop(ring.Op{UserData: uint64(i)}))
	}
	if err := r.Nop(ring.Op{UserData: 4}); !errors.Is(err, ring.ErrQueueFull) {
		t.Fatalf("fifth nop on a 4-entry ring: %v, want ErrQueueFull", err)
	}
	if k := r.SQSpace(); k != 0 {
		t.Fatalf("SQSpace of a full ring: %d", k)
	}
	n, err := r.Submit()
	if n != 4 || err != nil {
		t.Fatalf("submit: %d, %v; want 4", n, err)
	}
	if k := r.SQSpace(); k != 4 {
		t.Fatalf("SQSpace after submit: %d", k)
	}
	if n, err := r.Submit(); n != 0 || err != nil {
		t.Fatalf("submit of nothing: %d, %v", n, err)
	}
	byUserData(t, reap(t, r, 4))
}

// cqOverflow completes 4 times as many requests as the CQ holds (8) before
// reaping: the kernel keeps the overflow (IORING_FEAT_NODROP) and the
// backend must flush it.
func (s suite) cqOverflow(t *testing.T) {
	r := s.newRing(t, &ring.Options{Entries: 4})
	if r.Features()&ring.FeatNoDrop == 0 {
		privileged.Skip(t, "kernel lacks IORING_FEAT_NODROP (Linux 5.5)")
	}
	const total = 32
	for i := range total {
		if err := r.Nop(ring.Op{UserData: uint64(i)}); errors.Is(err, ring.ErrQueueFull) {
			_, err = r.Submit()
			must(t, "submit", err)
			must(t, "prepare nop", r.Nop(ring.Op{UserData: uint64(i)}))
		} else {
			must(t, "prepare nop", err)
		}
	}
	m := byUserData(t, reap(t, r, total))
	for i := range total {
		if _, ok := m[uint64(i)]; !ok {
			t.Fatalf("nop %d lost", i)
		}
	}
	quiet(t, r, time.Millisecond)
}

func (s suite) probe(t *testing.T) {
	r := s.newRing(t, nil)
	p, err := r.Probe()
	must(t, "probe", err)
	for _, op := range []struct {
		op   uint8
		name string
	}{{ring.OpNop, "NOP"}, {ring.OpSend, "SEND"}, {ring.OpRecv, "RECV"}, {ring.OpSendMsg, "SENDMSG"}, {ring.OpSplice, "SPLICE"}} {
		if !p.Supported(op.op) {
			t.Fatalf("probe: %s not supported (last op %d)", op.name, p.LastOp)
		}
	}
	if !p.Supported(ring.OpSendZC) {
		privileged.Skip(t, "kernel lacks IORING_OP_SEND_ZC (Linux 6.0)")
	}
	if p.LastOp < ring.OpSendZC {
		t.Fatalf("probe: SEND_ZC supported but last op %d", p.LastOp)
	}
	if p.Supported(255) {
		t.Fatal("probe: opcode 255 supported")
	}
}

func (s suite) close(t *testing.T) {
	r := s.newRing(t, nil)
	if r.Fd() < 0 {
		t.Fatalf("fd %d", r.Fd())
	}
	must(t, "close", r.Close())
	must(t, "second close", r.Close())
	b := make([]byte, 8)
	msg := &unix.Msghdr{}
	var cqes [1]ring.CQE
	o := ring.Op{UserData: 1}
	calls := map[string]error{
		"Nop":               r.Nop(o),
		"Send":              r.Send(o, 0, b, 0),
		"SendZC":            r.SendZC(o, 0, b, 0, 0),
		"SendZCFixed":       r.SendZCFixed(o, 0, b, 0, 0, 0),
		"SendMsg":           r.SendMsg(o, 0, msg, 0),
		"Recv":              r.Recv(o, 0, b, 0),
		"Read":              r.Read(o, 0, b, 0),
		"Write":             r.Write(o, 0, b, 0),
		"ReadFixed":         r.ReadFixed(o, 0, b, 0, 0),
		"WriteFixed":        r.WriteFixed(o, 0, b, 0, 0),
		"Splice":            r.Splice(o, 0, -1, 1, -1, 8, 0),
		"LinkTimeout":       r.LinkTimeout(o, time.Second),
		"Cancel":            r.Cancel(o, 1, 0),
		"CancelFD":          r.CancelFD(o, 0, 0),
		"RegisterBuffers":   r.RegisterBuffers([][]byte{b}),
		"UnregisterBuffers": r.UnregisterBuffers(),
	}
	_, calls["Submit"] = r.Submit()
	_, calls["Wait"] = r.Wait(cqes[:], 1, time.Millisecond)
	_, calls["Probe"] = r.Probe()
	for name, err := range calls {
		if !errors.Is(err, ring.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	if k := r.SQSpace(); k != 0 {
		t.Errorf("SQSpace after Close: %d, want 0", k)
	}
}

// hammer runs thousands of Nop/Send/Recv rounds from 16 goroutines, first
// each with its own ring, then all on one ring behind a mutex, and accounts
// for every completion exactly once. Run it with -race.
func (s suite) hammer(t *testing.T) {
	const workers = 16
	rounds := 3000
	if testing.Short() {
		rounds = 100
	}
	t.Run("RingPerGoroutine", func(t *testing.T) {
		rings := make([]Ring, workers)
		for i := range rings {
			rings[i] = s.newRing(t, &ring.Options{Entries: 8})
		}
		hammerRun(t, workers, rounds, func(w int, round func(Ring)) { round(rings[w]) })
	})
	t.Run("SharedRing", func(t *testing.T) {
		r := s.newRing(t, nil)
		var mu sync.Mutex
		hammerRun(t, workers, rounds, func(_ int, round func(Ring)) {
			mu.Lock()
			defer mu.Unlock()
			round(r)
		})
	})
}

// hammerRun runs rounds rounds in each of workers goroutines; with calls
// a round with the ring the worker is to use.
func hammerRun(t *testing.T, workers, rounds int, with func(w int, round func(Ring))) {
	const msgSize = 64
	seen := make([][]uint8, workers) // per worker, per user data: completions
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		a, b := unixPair(t)
		seen[w] = make([]uint8, 3*rounds)
		wg.Go(func() {
			msg := make([]byte, msgSize)
			got := make([]byte, msgSize)
			cqes := make([]ring.CQE, 2)
			for i := range rounds {
				base := uint64(w)<<32 | uint64(3*i)
				binary.LittleEndian.PutUint64(msg, base)
				rand.Read(msg[8:])
				var err error
				with(w, func(r Ring) {
					err = hammerRound(r, base, a, b, msg, got, cqes, seen[w])
				})
				if err == nil && !bytes.Equal(got, msg) {
					err = fmt.Errorf("worker %d round %d: received %x, sent %x", w, i, got, msg)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	for w := range seen {
		for i, n := range seen[w] {
			if n != 1 {
				t.Fatalf("worker %d, request %d: %d completions", w, i, n)
			}
		}
	}
}

// hammerRound queues a Nop, a Send of msg on a and a Recv into got on b,
// and reaps their three completions, at most two per Wait.
func hammerRound(r Ring, base uint64, a, b int, msg, got []byte, cqes []ring.CQE, seen []uint8) error {
	if err := r.Nop(ring.Op{UserData: base}); err != nil {
		return err
	}
	if err := r.Send(ring.Op{UserData: base + 1}, a, msg, unix.MSG_NOSIGNAL); err != nil {
		return err
	}
	if err := r.Recv(ring.Op{UserData: base + 2}, b, got, unix.MSG_WAITALL); err != nil {
		return err
	}
	for done := 0; done < 3; {
		n, err := r.Wait(cqes, 1, patience)
		if err != nil {
			return err
		}
		for _, c := range cqes[:n] {
			if c.UserData < base || c.UserData > base+2 {
				return fmt.Errorf("completion %+v of another round (this one %#x)", c, base)
			}
			want := int32(len(msg))
			if c.UserData == base {
				want = 0
			}
			if c.Res != want {
				return fmt.Errorf("request %#x: res %d (%v), want %d", c.UserData, c.Res, syscall.Errno(-min(c.Res, 0)), want)
			}
			seen[c.UserData&0xffffffff]++
			done++
		}
	}
	return nil
}
