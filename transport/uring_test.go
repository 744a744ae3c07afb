package transport_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/internal/privileged"
	"github.com/roadrunner-wasm/roadrunner/transport"
	"github.com/roadrunner-wasm/roadrunner/transport/features"
)

// requireRing skips (or, in CI, fails) a test that needs io_uring.
func requireRing(t *testing.T) {
	t.Helper()
	if err := features.HaveIOURing(); err != nil {
		privileged.Skip(t, err.Error())
	}
}

// TestZeroCopyTurnsOff: over loopback the kernel copies every zero-copy
// send; the connection sees that in the notifications of its first large
// transfer and sends the next ones without SEND_ZC, once.
func TestZeroCopyTurnsOff(t *testing.T) {
	requireRing(t)
	if err := features.HaveSendZC(); err != nil {
		privileged.Skip(t, err.Error())
	}
	sk := &sink{}
	s := startServer(t, transport.PathTCP, sk, &transport.ServerOptions{IOURing: true})
	var copied atomic.Int64
	p := newPeer(t, s.addr, &transport.DialOptions{IOURing: true, ZeroCopy: true, ZeroCopyMin: 1 << 20, OnZeroCopyCopied: func() { copied.Add(1) }})
	want := pattern(4<<20, 9)
	for i := range 3 {
		if _, err := p.Send(context.Background(), "fn", want, nil); err != nil {
			t.Fatalf("transfer %d: %v", i, err)
		}
		sk.mu.Lock()
		ok := bytes.Equal(sk.last, want)
		sk.mu.Unlock()
		if !ok {
			t.Fatalf("transfer %d: payload differs", i)
		}
		if n := transport.ZeroCopySends(p); n != 4 {
			// 4 MiB in 1 MiB chunks, all with SEND_ZC on the first
			// transfer, none after.
			t.Fatalf("after transfer %d: %d zero-copy sends, want 4", i, n)
		}
	}
	if n := copied.Load(); n != 1 {
		t.Fatalf("zero copy turned off %d times, want once", n)
	}
}

// stalledListener accepts connections and never reads them.
func stalledListener(t *testing.T) (addr string, conns chan net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns = make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for {
			select {
			case c := <-conns:
				c.Close()
			default:
				return
			}
		}
	})
	return "tcp://" + ln.Addr().String(), conns
}

// stuckSend sends 64 MiB through the ring under ctx to a peer that never
// reads and checks that the send fails with want (which only what the test
// sets up can cause: the other bounds are minutes away), every request in
// flight reaped, and that the connection is dropped.
func stuckSend(t *testing.T, ctx context.Context, opts *transport.DialOptions, want error) {
	t.Helper()
	requireRing(t)
	addr, _ := stalledListener(t)
	p := newPeer(t, addr, opts)
	stuck(t, p, ctx, want)
}

// stuck is stuckSend with the peer made.
func stuck(t *testing.T, p *transport.Peer, ctx context.Context, want error) {
	t.Helper()
	var sent transport.Sent
	var err error
	returnsWithin(t, time.Minute, "the stuck send", func() { sent, err = p.Send(ctx, "fn", pattern(64<<20, 1), nil) })
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
	if sent.Mechanism != transport.MechanismIOURing {
		t.Fatalf("sent with %v, want the ring", sent.Mechanism)
	}
	if open, _ := p.Conns(); open != 0 {
		t.Fatalf("%d connections open, want the failed one closed", open)
	}
}

// TestRingStalledPeer: a peer that stops reading makes the linked sends
// stop; after IOTimeout without a completion the transfer fails.
func TestRingStalledPeer(t *testing.T) {
	stuckSend(t, context.Background(), &transport.DialOptions{IOURing: true, IOTimeout: 300 * time.Millisecond}, os.ErrDeadlineExceeded)
}

// TestRingCancel: a context canceled while the sends are stuck ends the
// transfer at once with the context's cause.
func TestRingCancel(t *testing.T) {
	requireRing(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, conns := stalledListener(t)
	// Cancel once the payload is on its way: the receiver has read its
	// first MiB, then stops reading.
	go func() {
		c := <-conns
		conns <- c // for the listener's cleanup to close
		io.CopyN(io.Discard, c, 1<<20)
		cancel()
	}()
	p := newPeer(t, addr, &transport.DialOptions{IOURing: true, IOTimeout: 10 * time.Minute})
	stuck(t, p, ctx, context.Canceled)
}

// TestRingPeerGone: a peer that closes mid-payload fails the transfer with
// ErrConnClosed.
func TestRingPeerGone(t *testing.T) {
	requireRing(t)
	addr, conns := stalledListener(t)
	p := newPeer(t, addr, &transport.DialOptions{IOURing: true})
	go func() {
		c := <-conns
		io.CopyN(io.Discard, c, 3<<20)
		c.Close()
	}()
	sent, err := p.Send(context.Background(), "fn", pattern(64<<20, 1), nil)
	if !errors.Is(err, transport.ErrConnClosed) {
		t.Fatalf("err = %v, want ErrConnClosed", err)
	}
	if sent.Mechanism != transport.MechanismIOURing {
		t.Fatalf("sent with %v, want the ring", sent.Mechanism)
	}
}

// rawFrame opens a connection to s and writes a DATA frame's header for
// size bytes to fn, then sent bytes of its payload.
func rawFrame(t *testing.T, s *server, size, sent int) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", s.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	frame := dataFrame("fn", pattern(size, 4), nil)
	if _, err := c.Write(frame[:len(frame)-size+sent]); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRingServerStall: a sender that stops mid-payload makes the server's
// linked receives wait; after ReadProgressTimeout the connection is refused
// with "stalled", and nothing reaches the sink's handler.
func TestRingServerStall(t *testing.T) {
	requireRing(t)
	sk := &sink{}
	s := startServer(t, transport.PathTCP, sk, &transport.ServerOptions{IOURing: true, ReadProgressTimeout: 300 * time.Millisecond})
	c := rawFrame(t, s, 8<<20, 1<<20)
	waitFor(t, func() bool { return s.refusals(transport.RefusedStalled) == 1 }, "stalled refusal")
	// The ring's receives timed out, not a plain read.
	waitFor(t, func() bool { return strings.Contains(s.log.String(), "io_uring: no progress") }, "the ring's timeout in the refusal")
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := c.Read(make([]byte, 64)); err == nil {
		t.Fatalf("read %d bytes, want the connection closed without an ACK", n)
	}
	if n := sk.delivered.Load(); n != 0 {
		t.Fatalf("%d payloads delivered, want none", n)
	}
}

// TestRingServerForcedClose: Close with a payload half received shuts the
// socket down, which ends the ring's receives: Close returns when its
// context ends, not when ReadProgressTimeout (ten minutes) would.
func TestRingServerForcedClose(t *testing.T) {
	requireRing(t)
	sk := &sink{}
	s := startServer(t, transport.PathTCP, sk, &transport.ServerOptions{IOURing: true, IOTimeout: 10 * time.Minute, ReadProgressTimeout: 10 * time.Minute})
	rawFrame(t, s, 8<<20, 1<<20)
	waitFor(t, func() bool { return sk.fills.Load() == 1 }, "the payload's fill")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	var err error
	returnsWithin(t, time.Minute, "Close", func() { err = s.srv.Close(ctx) })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close: %v, want the context's deadline", err)
	}
	if n := sk.delivered.Load(); n != 0 {
		t.Fatalf("%d payloads delivered, want none", n)
	}
}
