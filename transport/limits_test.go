//go:build linux

package transport_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/transport"
	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

// limitSink records what the limits tests look at: every fill, the fills
// that failed and why, and the deliveries with their source.
type limitSink struct {
	fills, fillErrs, delivered atomic.Int64

	mu      sync.Mutex
	lastErr error
	last    []byte
	source  string
}

func (s *limitSink) Deliver(_ context.Context, from *transport.Origin, to string, n uint64, fill func([]byte) error) error {
	if to != "fn" {
		return errNoFunction
	}
	buf := make([]byte, n)
	s.fills.Add(1)
	if err := fill(buf); err != nil {
		s.mu.Lock()
		s.lastErr = err
		s.mu.Unlock()
		s.fillErrs.Add(1)
		return err
	}
	s.mu.Lock()
	s.last, s.source = buf, from.Source
	s.mu.Unlock()
	s.delivered.Add(1)
	return nil
}

func (s *limitSink) fillErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

func (s *limitSink) lastDelivery() ([]byte, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, s.source
}

// socketPaths are the paths a Server serves.
var socketPaths = []transport.Path{transport.PathTCP, transport.PathUnix}

// dialFrom connects to s, on the tcp path from the local address ip ("" for
// the default).
func dialFrom(t *testing.T, s *server, ip string) net.Conn {
	t.Helper()
	path, addr, err := transport.ParseAddress(s.addr)
	if err != nil {
		t.Fatal(err)
	}
	var d net.Dialer
	if ip != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(ip)}
	}
	c, err := d.Dial(path.String(), addr)
	if err != nil {
		t.Fatalf("dial %s from %q: %v", s.addr, ip, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip sends one DATA frame to "fn" over c and reads its ACK, which
// must say status 0.
func roundTrip(t *testing.T, c net.Conn, payload []byte) {
	t.Helper()
	if _, err := c.Write(dataFrame("fn", payload, nil)); err != nil {
		t.Fatalf("send a frame from %s: %v", c.LocalAddr(), err)
	}
	readAck(t, c)
}

// readAck reads the ACK of the frame c sent (dataFrame's id 1): status 0.
func readAck(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var buf [wire.HeaderSize]byte
	h, err := wire.ReadHeader(c, &buf, wire.Limits{})
	c.SetReadDeadline(time.Time{})
	if err != nil {
		t.Fatalf("the ACK to %s: %v", c.LocalAddr(), err)
	}
	if h.Kind != wire.KindAck || h.ID != 1 || h.Status != 0 {
		t.Fatalf("answer to %s: %s of frame %d status %d, want the ACK of frame 1, status 0", c.LocalAddr(), h.Kind, h.ID, h.Status)
	}
}

// waitClosed waits until the server closes c, without a byte sent to it,
// and returns when it saw that.
func waitClosed(t *testing.T, c net.Conn, what string) time.Time {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := io.Copy(io.Discard, c)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("%s: not closed by the server: %v", what, err)
	}
	if n != 0 {
		t.Fatalf("%s: the server sent %d bytes, want none", what, n)
	}
	return time.Now()
}

// head is a frame's header and name, without its payload.
func head(to string, n int) []byte {
	return dataFrame(to, make([]byte, n), nil)[:wire.HeaderSize+len(to)]
}

// TestStalledPayload: a payload that stops arriving is aborted after
// ReadProgressTimeout: the Sink's fill fails, nothing is delivered, the
// connection is closed and refused as stalled.
func TestStalledPayload(t *testing.T) {
	const progress = 300 * time.Millisecond
	for _, path := range socketPaths {
		t.Run(path.String(), func(t *testing.T) {
			sk := &limitSink{}
			s := startServer(t, path, sk, &transport.ServerOptions{ReadProgressTimeout: progress})
			c := dialFrom(t, s, "")
			start := time.Now()
			if _, err := c.Write(dataFrame("fn", make([]byte, 1000), nil)[:wire.HeaderSize+2+500]); err != nil {
				t.Fatal(err)
			}
			closed := waitClosed(t, c, "stalled payload")
			if d := closed.Sub(start); d < progress || d > progress+3*time.Second {
				t.Errorf("closed %v after the last byte, want ReadProgressTimeout (%v)", d, progress)
			}
			waitFor(t, func() bool { return s.refusals(transport.RefusedStalled) == 1 }, "stalled refusal")
			if n := sk.fillErrs.Load(); n != 1 {
				t.Fatalf("%d fills failed, want the stalled one", n)
			}
			if err := sk.fillErr(); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("fill failed with %v, want a deadline", err)
			}
			if n := sk.delivered.Load(); n != 0 {
				t.Errorf("%d payloads delivered, want none", n)
			}
		})
	}
}

// TestTricklingPayload: a payload that arrives slowly but steadily, a byte
// every quarter of ReadProgressTimeout and in all several times it, is
// delivered whole.
func TestTricklingPayload(t *testing.T) {
	// A loaded CI machine may delay the writer: each gap leaves it three
	// quarters of the timeout.
	const progress = time.Second
	for _, path := range socketPaths {
		t.Run(path.String(), func(t *testing.T) {
			sk := &limitSink{}
			s := startServer(t, path, sk, &transport.ServerOptions{ReadProgressTimeout: progress, IOTimeout: progress})
			c := dialFrom(t, s, "")
			payload := []byte("trickling")
			if _, err := c.Write(head("fn", len(payload))); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			for i := range payload {
				time.Sleep(progress / 4)
				if _, err := c.Write(payload[i : i+1]); err != nil {
					t.Fatalf("byte %d: %v", i, err)
				}
			}
			readAck(t, c)
			if d := time.Since(start); d < 2*progress {
				t.Fatalf("the payload took %v, want more than twice ReadProgressTimeout for the test to mean anything", d)
			}
			if got, _ := sk.lastDelivery(); !bytes.Equal(got, payload) {
				t.Errorf("delivered %q, want %q", got, payload)
			}
			if n := s.refusals(transport.RefusedStalled); n != 0 {
				t.Errorf("%d stalled refusals, want none", n)
			}
		})
	}
}

// TestSlowHeader: a header sent a byte at a time, each within
// ReadProgressTimeout, is cut IOTimeout after its first byte (slow_header),
// on a connection that completed a frame before.
func TestSlowHeader(t *testing.T) {
	// Each byte comes half the progress timeout after the last: a delay
	// of the writer up to that much still makes a slow header, not a stall.
	const (
		progress = time.Second
		ioTime   = 2500 * time.Millisecond
	)
	for _, path := range socketPaths {
		t.Run(path.String(), func(t *testing.T) {
			sk := &limitSink{}
			s := startServer(t, path, sk, &transport.ServerOptions{ReadProgressTimeout: progress, IOTimeout: ioTime})
			c := dialFrom(t, s, "")
			roundTrip(t, c, []byte("first"))

			frame := dataFrame("fn", []byte("slow"), nil)
			start := time.Now()
			stop := make(chan struct{})
			wrote := make(chan int, 1)
			go func() {
				i := 0
				defer func() { wrote <- i }()
				for ; i < len(frame); i++ {
					if _, err := c.Write(frame[i : i+1]); err != nil {
						return
					}
					select {
					case <-stop:
						return
					case <-time.After(progress / 2):
					}
				}
			}()
			closed := waitClosed(t, c, "slow header")
			close(stop)
			if i := <-wrote; i >= wire.HeaderSize {
				t.Fatalf("%d bytes sent before the cut: the header was whole", i)
			}
			if d := closed.Sub(start); d < ioTime || d > ioTime+3*time.Second {
				t.Errorf("closed %v after the header's first byte, want IOTimeout (%v)", d, ioTime)
			}
			waitFor(t, func() bool { return s.refusals(transport.RefusedSlowHeader) == 1 }, "slow_header refusal")
			if n := s.refusals(transport.RefusedStalled); n != 0 {
				t.Errorf("%d stalled refusals, want none: every byte came within ReadProgressTimeout", n)
			}
			if n := sk.delivered.Load(); n != 1 {
				t.Errorf("%d payloads delivered, want the first frame's", n)
			}
		})
	}
}

// TestFirstFrameTimeout: a connection that sends nothing, or half a header,
// is closed FirstFrameTimeout after it connected (first_frame_timeout),
// while one that completed a frame and then idles is not.
func TestFirstFrameTimeout(t *testing.T) {
	const first = 300 * time.Millisecond
	for _, path := range socketPaths {
		t.Run(path.String(), func(t *testing.T) {
			sk := &limitSink{}
			s := startServer(t, path, sk, &transport.ServerOptions{FirstFrameTimeout: first})
			for i, sent := range [][]byte{nil, head("fn", 10)[:wire.HeaderSize/2]} {
				start := time.Now()
				c := dialFrom(t, s, "")
				if _, err := c.Write(sent); err != nil {
					t.Fatal(err)
				}
				closed := waitClosed(t, c, fmt.Sprintf("%d bytes of a first frame", len(sent)))
				if d := closed.Sub(start); d < first || d > first+3*time.Second {
					t.Errorf("%d bytes sent: closed %v after connecting, want FirstFrameTimeout (%v)", len(sent), d, first)
				}
				waitFor(t, func() bool { return s.refusals(transport.RefusedFirstFrame) == int64(i+1) }, "first_frame_timeout refusal %d", i+1)
			}

			// A Peer's connection sends its frame at once, and after it
			// only IdleTimeout applies.
			p := newPeer(t, s.addr, nil)
			if _, err := p.Send(context.Background(), "fn", []byte("one"), nil); err != nil {
				t.Fatal(err)
			}
			// One connected after it, silent: when it is closed, the
			// Peer's connection is past its first frame's bound too.
			sentinel := dialFrom(t, s, "")
			waitClosed(t, sentinel, "the silent sentinel")
			waitFor(t, func() bool { return s.refusals(transport.RefusedFirstFrame) == 3 }, "the sentinel's refusal")
			if _, err := p.Send(context.Background(), "fn", []byte("two"), nil); err != nil {
				t.Fatal(err)
			}
			if open, _ := p.Conns(); open != 1 {
				t.Errorf("the Peer has %d connections, want its first one kept", open)
			}
			if n := sk.delivered.Load(); n != 2 {
				t.Errorf("%d payloads delivered, want the Peer's 2", n)
			}
			if n := s.refusals(transport.RefusedFirstFrame); n != 3 {
				t.Errorf("%d first_frame_timeout refusals, want 3: the Peer's connection was not one", n)
			}
		})
	}
}

// TestMaxConnsPerSource: a source's connection beyond MaxConnsPerSource is
// closed at accept, while another source still gets in, and the source
// gets in again once one of its connections closed.
func TestMaxConnsPerSource(t *testing.T) {
	t.Run("tcp", func(t *testing.T) {
		sk := &limitSink{}
		refused := &refusals{}
		s := startServer(t, transport.PathTCP, sk, &transport.ServerOptions{MaxConnsPerSource: 2, OnRefused: refused.add})
		a1, a2 := dialFrom(t, s, "127.0.0.2"), dialFrom(t, s, "127.0.0.2")
		roundTrip(t, a1, []byte("a1"))
		if _, src := sk.lastDelivery(); src != "127.0.0.2" {
			t.Errorf("Origin.Source %q, want the dialer's address 127.0.0.2", src)
		}
		roundTrip(t, a2, []byte("a2"))
		a3 := dialFrom(t, s, "127.0.0.2")
		waitClosed(t, a3, "127.0.0.2's third connection")
		waitFor(t, func() bool { return s.refusals(transport.RefusedMaxConnsPerSource) == 1 }, "max_conns_per_source refusal")
		rs := refused.take()
		if len(rs) != 1 || rs[0].Source != "127.0.0.2" || rs[0].Remote != a3.LocalAddr().String() || rs[0].At != "accept" {
			t.Errorf("refusals %+v, want a3's (%s) of source 127.0.0.2 at accept", rs, a3.LocalAddr())
		}

		b := dialFrom(t, s, "127.0.0.3")
		roundTrip(t, b, []byte("b"))
		if _, src := sk.lastDelivery(); src != "127.0.0.3" {
			t.Errorf("Origin.Source %q, want 127.0.0.3", src)
		}

		a1.Close()
		waitFor(t, func() bool { return s.srv.Conns() == 2 }, "a1's connection gone")
		roundTrip(t, dialFrom(t, s, "127.0.0.2"), []byte("a4"))
		if n := sk.delivered.Load(); n != 4 {
			t.Errorf("%d payloads delivered, want 4", n)
		}
	})
	t.Run("unix", func(t *testing.T) {
		sk := &limitSink{}
		refused := &refusals{}
		s := startServer(t, transport.PathUnix, sk, &transport.ServerOptions{MaxConnsPerSource: 2, OnRefused: refused.add})
		want := fmt.Sprintf("uid:%d/pid:%d", os.Getuid(), os.Getpid())
		for i := range 2 {
			roundTrip(t, dialFrom(t, s, ""), []byte{byte(i)})
			if _, src := sk.lastDelivery(); src != want {
				t.Errorf("Origin.Source %q, want %q", src, want)
			}
		}
		waitClosed(t, dialFrom(t, s, ""), "the uid's third connection")
		waitFor(t, func() bool { return s.refusals(transport.RefusedMaxConnsPerSource) == 1 }, "max_conns_per_source refusal")
		if rs := refused.take(); len(rs) != 1 || rs[0].Source != want {
			t.Errorf("refusals %+v, want one of source %s", rs, want)
		}
	})
}

// TestEvict: a listener full of one source's connections makes room for
// another source's by evicting an idle one — one that never completed a
// frame first, then the longest idle — and never one in the middle of a
// frame; when the newcomer's source would hold as many as the heaviest,
// it is refused instead.
func TestEvict(t *testing.T) {
	sk := &limitSink{}
	refused := &refusals{}
	s := startServer(t, transport.PathTCP, sk, &transport.ServerOptions{MaxConns: 4, OnRefused: refused.add})
	const a, b = "127.0.0.2", "127.0.0.3"

	// Source a fills the listener: a0 in the middle of a payload, a1 in
	// the middle of a header, a2 idle after a frame, a3 idle from the
	// start.
	a0 := dialFrom(t, s, a)
	frame0 := dataFrame("fn", []byte("payload of a0"), nil)
	if _, err := a0.Write(frame0[:wire.HeaderSize+2+4]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return sk.fills.Load() == 1 }, "a0's fill")
	a1 := dialFrom(t, s, a)
	frame1 := dataFrame("fn", []byte("payload of a1"), nil)
	if _, err := a1.Write(frame1[:10]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return transport.FramesInProgress(s.srv) == 2 }, "a0's and a1's frames begun")
	a2 := dialFrom(t, s, a)
	roundTrip(t, a2, []byte("a2"))
	a3 := dialFrom(t, s, a)
	waitFor(t, func() bool { return s.srv.Conns() == 4 && transport.FramesInProgress(s.srv) == 2 }, "4 connections, 2 of them in a frame")

	// b's first connection evicts a3, which never completed a frame.
	b1 := dialFrom(t, s, b)
	roundTrip(t, b1, []byte("b1"))
	if _, src := sk.lastDelivery(); src != b {
		t.Errorf("Origin.Source %q, want %s", src, b)
	}
	waitClosed(t, a3, "a3")
	rs := refused.take()
	if len(rs) != 1 || rs[0].Reason != transport.RefusedEvicted || rs[0].Remote != a3.LocalAddr().String() || rs[0].Source != a {
		t.Fatalf("refusals %+v, want a3's (%s) eviction", rs, a3.LocalAddr())
	}

	// a2 is still served; once it is idle again, b's second connection
	// evicts it (b would hold 2, a 2).
	roundTrip(t, a2, []byte("a2 again"))
	waitFor(t, func() bool { return transport.FramesInProgress(s.srv) == 2 }, "a2 idle again")
	b2 := dialFrom(t, s, b)
	roundTrip(t, b2, []byte("b2"))
	waitClosed(t, a2, "a2")
	rs = refused.take()
	if len(rs) != 1 || rs[0].Reason != transport.RefusedEvicted || rs[0].Remote != a2.LocalAddr().String() {
		t.Fatalf("refusals %+v, want a2's (%s) eviction", rs, a2.LocalAddr())
	}

	// b holding 2 and a 2 (both in a frame), b's third is refused.
	waitClosed(t, dialFrom(t, s, b), "b's third connection")
	waitFor(t, func() bool { return s.refusals(transport.RefusedMaxConns) == 1 }, "max_conns refusal")

	// a0 and a1 were never evicted: their frames complete.
	if _, err := a0.Write(frame0[wire.HeaderSize+2+4:]); err != nil {
		t.Fatal(err)
	}
	readAck(t, a0)
	if _, err := a1.Write(frame1[10:]); err != nil {
		t.Fatal(err)
	}
	readAck(t, a1)
	if got, _ := sk.lastDelivery(); string(got) != "payload of a1" {
		t.Errorf("last delivery %q, want a1's payload", got)
	}
	if n := sk.delivered.Load(); n != 6 {
		t.Errorf("%d payloads delivered, want 6", n)
	}
	if n := s.refusals(transport.RefusedEvicted); n != 2 {
		t.Errorf("%d evictions, want 2", n)
	}
}
