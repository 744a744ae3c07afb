package transport_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/transport"
	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

// Status codes the test sink answers with (ABI codes, as node's would).
const (
	statusUnknown  = -2 // unknown_function
	statusTooLarge = -3 // too_large
	statusFailed   = -5 // receiver_failed
)

var (
	errNoFunction = errors.New("unknown function")
	errTooLarge   = errors.New("too large")
	errHandler    = errors.New("handler failed")
)

func status(err error) int32 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errNoFunction):
		return statusUnknown
	case errors.Is(err, errTooLarge):
		return statusTooLarge
	}
	return statusFailed
}

// sink is a transport.Sink over plain Go buffers, standing in for a guest's
// memory: the transport knows nothing of Wasm, and node's tests run the
// same paths with real guests.
type sink struct {
	max       uint64
	reuse     bool // deliver into one buffer, reused (no allocation per payload)
	buf       []byte
	delivered atomic.Int64 // handler calls
	fills     atomic.Int64 // fill calls
	mu        sync.Mutex
	last      []byte
	lastMech  transport.Mechanism // what carried the last payload into its view
	lastPath  transport.Path
	// handle checks a delivered payload; nil accepts it.
	handle func(ctx context.Context, to string, b []byte) error
}

func (s *sink) Deliver(ctx context.Context, from *transport.Origin, to string, n uint64, fill func([]byte) error) error {
	switch {
	case to != "fn" && to != "echo" && to != "check":
		return errNoFunction
	case s.max != 0 && n > s.max:
		return errTooLarge
	}
	var buf []byte
	if s.reuse && uint64(cap(s.buf)) >= n {
		buf = s.buf[:n]
	} else {
		buf = make([]byte, n)
		if s.reuse {
			s.buf = buf
		}
	}
	s.fills.Add(1)
	if err := fill(buf); err != nil {
		return err
	}
	s.delivered.Add(1)
	s.mu.Lock()
	s.last = buf
	s.lastMech, s.lastPath = from.Mechanism, from.Path
	s.mu.Unlock()
	if to == "echo" {
		if w := from.Reply; w != nil {
			if _, err := w.Write(buf); err != nil {
				return err
			}
		}
	}
	if s.handle != nil {
		return s.handle(ctx, to, buf)
	}
	return nil
}

// logBuffer collects a server's log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type server struct {
	srv     *transport.Server
	addr    string // a peer address
	ln      net.Listener
	log     *logBuffer
	refused sync.Map // reason -> *atomic.Int64
}

func (s *server) refusals(reason string) int64 {
	v, ok := s.refused.Load(reason)
	if !ok {
		return 0
	}
	return v.(*atomic.Int64).Load()
}

// startServer serves sk on a fresh unix socket or tcp loopback port.
func startServer(t testing.TB, path transport.Path, sk transport.Sink, opts *transport.ServerOptions) *server {
	t.Helper()
	s := &server{log: &logBuffer{}}
	var o transport.ServerOptions
	if opts != nil {
		o = *opts
	}
	o.Status = status
	o.Logger = slog.New(slog.NewTextHandler(s.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	given := o.OnRefused // a test's own, called after the counting
	o.OnRefused = func(r transport.Refusal) {
		if given != nil {
			defer given(r)
		}
		if r.Path != path || r.Reason == "" || r.Err == nil {
			t.Errorf("refusal %+v: want the path, a reason and an error", r)
		}
		fmt.Fprintf(s.log, "refused: %s at %s from %s: %v\n", r.Reason, r.At, r.Remote, r.Err)
		v, _ := s.refused.LoadOrStore(r.Reason, new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
		if r.Auth != "" {
			// An authentication failure is counted under "auth/REASON" too.
			v, _ := s.refused.LoadOrStore(r.Reason+"/"+r.Auth, new(atomic.Int64))
			v.(*atomic.Int64).Add(1)
		}
	}
	s.srv = transport.NewServer(sk, path, &o)
	var err error
	switch path {
	case transport.PathUnix:
		sock := filepath.Join(t.TempDir(), "rr.sock")
		s.ln, err = transport.ListenUnix(sock, 0, -1)
		s.addr = "unix://" + sock
	case transport.PathTCP:
		s.ln, err = net.Listen("tcp", "127.0.0.1:0")
		if err == nil {
			s.addr = "tcp://" + s.ln.Addr().String()
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", s.log)
		}
	})
	serve(t, s.srv, s.ln) // closed before the log is shown: cleanups run last first
	return s
}

// serve serves ln with srv until the test's cleanup, which closes srv
// (giving its connections 5 s) and fails the test if Close or Serve did.
func serve(t testing.TB, srv *transport.Server, ln net.Listener) {
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Error(err)
		}
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
}

func newPeer(t *testing.T, addr string, opts *transport.DialOptions) *transport.Peer {
	t.Helper()
	p, err := transport.NewPeer(addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// pattern returns n bytes that differ for each (n, seed).
func pattern(n int, seed uint64) []byte {
	b := make([]byte, n+8)
	s := uint64(n)*0x9e3779b97f4a7c15 ^ seed ^ 0x2545f4914f6cdd1d
	for i := 0; i < n; i += 8 {
		s ^= s << 13
		s ^= s >> 7
		s ^= s << 17
		binary.LittleEndian.PutUint64(b[i:], s)
	}
	return b[:n:n]
}

// mechanism is one way of sending over a path: a tcp Mechanism, or
// io_uring (with zero copy on or off) on either side.
type mechanism struct {
	path     transport.Path
	mech     transport.Mechanism
	ring, zc bool
}

func (m mechanism) String() string {
	switch {
	case m.zc:
		return m.path.String() + "/iouring-zc"
	case m.ring:
		return m.path.String() + "/iouring"
	}
	return m.path.String() + "/" + m.mech.String()
}

// sends is what must carry a payload of size bytes sent with m (RingMin 1):
// the ring for every non-empty payload, else the path's or the tcp
// mechanism's plain calls (auto chooses write on loopback).
func (m mechanism) sends(size int) transport.Mechanism {
	switch {
	case m.ring && size > 0:
		return transport.MechanismIOURing
	case m.path == transport.PathUnix:
		return transport.MechanismWritev
	case m.mech == transport.MechanismSplice && size > 0:
		return transport.MechanismSplice
	}
	return transport.MechanismWrite
}

// receives is what must carry a payload of size bytes into the receiver's
// view, for payloads larger than the server's read buffer: the ring if on.
func (m mechanism) receives() transport.Mechanism {
	if m.ring {
		return transport.MechanismIOURing
	}
	return transport.MechanismRead
}

func (m mechanism) dial(o transport.DialOptions) *transport.DialOptions {
	o.Mechanism = m.mech
	o.IOURing, o.ZeroCopy = m.ring, m.zc
	o.RingMin = 1 // every payload through the ring, not only large ones
	if m.zc {
		// On loopback every zero-copy send comes back copied, and the
		// connection turns zero copy off after its first such transfer:
		// a fresh connection per transfer keeps it on.
		o.ZeroCopyMin = 1
	}
	return &o
}

func (m mechanism) server() *transport.ServerOptions {
	return &transport.ServerOptions{IOURing: m.ring, RingMin: 1}
}

// socketKinds are the socket paths with and without io_uring.
var socketKinds = []mechanism{
	{path: transport.PathUnix},
	{path: transport.PathTCP},
	{path: transport.PathUnix, ring: true},
	{path: transport.PathTCP, ring: true},
}

var mechanisms = []mechanism{
	{path: transport.PathUnix},
	{path: transport.PathTCP, mech: transport.MechanismWrite},
	{path: transport.PathTCP, mech: transport.MechanismSplice},
	{path: transport.PathTCP, mech: transport.MechanismAuto},
	{path: transport.PathUnix, ring: true},
	{path: transport.PathTCP, ring: true},
	{path: transport.PathTCP, ring: true, zc: true},
}

func TestRoundTrip(t *testing.T) {
	for _, m := range mechanisms {
		t.Run(m.String(), func(t *testing.T) {
			t.Parallel()
			sk := &sink{}
			s := startServer(t, m.path, sk, m.server())
			p := newPeer(t, s.addr, m.dial(transport.DialOptions{Verify: m.mech == transport.MechanismAuto || m.zc}))
			for _, size := range []int{0, 1, 4095, 1 << 20, 1<<20 + 4097, 64 << 20} {
				want := pattern(size, 1)
				sent, err := p.Send(context.Background(), "fn", want, nil)
				if err != nil {
					t.Fatalf("%d B: %v", size, err)
				}
				if sent.Landed <= 0 {
					t.Errorf("%d B: landed %v", size, sent.Landed)
				}
				if want := m.sends(size); sent.Mechanism != want {
					t.Errorf("%d B: sent with %v, want %v", size, sent.Mechanism, want)
				}
				sk.mu.Lock()
				got, rmech, rpath := sk.last, sk.lastMech, sk.lastPath
				sk.mu.Unlock()
				if !bytes.Equal(got, want) {
					t.Fatalf("%d B: payload differs", size)
				}
				if rpath != m.path {
					t.Errorf("%d B: the sink was told path %v, want %v", size, rpath, m.path)
				}
				if size >= 1<<20 && rmech != m.receives() {
					t.Errorf("%d B: received with %v, want %v", size, rmech, m.receives())
				}
			}
			if open, idle := p.Conns(); open != 1 || idle != 1 {
				t.Errorf("sequential sends used %d connections (%d idle), want 1 reused", open, idle)
			}
		})
	}
}

func TestReply(t *testing.T) {
	for _, m := range socketKinds {
		t.Run(m.String(), func(t *testing.T) {
			sk := &sink{}
			s := startServer(t, m.path, sk, m.server())
			p := newPeer(t, s.addr, m.dial(transport.DialOptions{}))
			for _, size := range []int{0, 10, 3 << 20} {
				want := pattern(size, 2)
				var got bytes.Buffer
				if _, err := p.Send(context.Background(), "echo", want, &got); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got.Bytes(), want) {
					t.Fatalf("%d B: reply differs (%d bytes)", size, got.Len())
				}
			}
			// Without a reply writer the frame takes no reply: the sink
			// sees no Origin.Reply.
			if _, err := p.Send(context.Background(), "echo", []byte("x"), nil); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	for _, m := range socketKinds {
		t.Run(m.String(), func(t *testing.T) {
			sk := &sink{max: 1 << 20, handle: func(_ context.Context, _ string, b []byte) error {
				if len(b) > 0 && b[0] == 'x' {
					return errHandler
				}
				return nil
			}}
			s := startServer(t, m.path, sk, m.server())
			p := newPeer(t, s.addr, m.dial(transport.DialOptions{}))
			ctx := context.Background()

			// Refused after the payload was read: the ACK says so and the
			// connection stays.
			_, err := p.Send(ctx, "fn", []byte("x fails"), nil)
			var se *transport.StatusError
			if !errors.As(err, &se) || se.Status != statusFailed {
				t.Fatalf("handler failure: %v, want status %d", err, statusFailed)
			}
			if open, _ := p.Conns(); open != 1 {
				t.Fatalf("%d connections after a handler failure, want the one kept", open)
			}

			// Refused before the payload was read: the ACK carries the
			// code, and the connection is closed.
			for _, c := range []struct {
				to     string
				size   int
				status int32
				reason string
			}{
				{"nosuch", 100, statusUnknown, transport.RefusedUnknownFunction},
				{"fn", 1<<20 + 1, statusTooLarge, transport.RefusedUnread},
				{"nosuch", 8 << 20, statusUnknown, transport.RefusedUnknownFunction}, // larger than the socket buffers
			} {
				before := s.refusals(c.reason)
				_, err := p.Send(ctx, c.to, pattern(c.size, 3), nil)
				if !errors.As(err, &se) || se.Status != c.status {
					t.Fatalf("send %d B to %s: %v, want status %d", c.size, c.to, err, c.status)
				}
				if open, _ := p.Conns(); open != 0 {
					t.Fatalf("send to %s: %d connections left open, want the refused one closed", c.to, open)
				}
				waitFor(t, func() bool { return s.refusals(c.reason) == before+1 }, "refusal %s counted", c.reason)
			}
			if n := sk.fills.Load(); n != 1 {
				t.Fatalf("the sink filled %d payloads, want 1 (the refused frames never reach it)", n)
			}
			if _, err := p.Send(ctx, "fn", []byte("fine"), nil); err != nil {
				t.Fatalf("after refusals: %v", err)
			}
		})
	}
}

func waitFor(t *testing.T, cond func() bool, format string, args ...any) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: "+format, args...)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// dataFrame encodes a DATA frame to to with payload, with mod applied to the
// header first.
func dataFrame(to string, payload []byte, mod func(*wire.Header)) []byte {
	h := wire.Header{Kind: wire.KindData, NameLen: uint16(len(to)), PayloadLen: uint64(len(payload)), ID: 1}
	if mod != nil {
		mod(&h)
	}
	b := wire.AppendHeader(nil, &h)
	b = append(b, to...)
	return append(b, payload...)
}

// TestBadInput: each malformed stream closes its connection with a logged
// reason; nothing reaches the sink; a good connection keeps working.
func TestBadInput(t *testing.T) {
	for _, path := range []transport.Path{transport.PathUnix, transport.PathTCP} {
		t.Run(path.String(), func(t *testing.T) {
			sk := &sink{}
			s := startServer(t, path, sk, &transport.ServerOptions{
				Limits:              wire.Limits{MaxPayload: 1 << 20},
				IOTimeout:           500 * time.Millisecond,
				ReadProgressTimeout: 500 * time.Millisecond,
			})
			good := newPeer(t, s.addr, nil)
			network, addr, _ := transport.ParseAddress(s.addr)
			long := strings.Repeat("a", wire.MaxNameLen+1)
			for _, c := range []struct {
				name   string
				bytes  []byte
				hangUp bool // close the write side after sending
				reason string
				logs   string
			}{
				{"bad magic", append([]byte("XRF1"), dataFrame("fn", []byte("hi"), nil)[4:]...), false, transport.RefusedBadFrame, "magic"},
				{"unknown kind", dataFrame("fn", []byte("hi"), func(h *wire.Header) { h.Kind = 9 }), false, transport.RefusedBadFrame, "kind"},
				{"ACK from a sender", wire.AppendHeader(nil, &wire.Header{Kind: wire.KindAck, ID: 3}), false, transport.RefusedBadFrame, "kind"},
				{"oversized length", dataFrame("fn", nil, func(h *wire.Header) { h.PayloadLen = 1<<20 + 1 }), false, transport.RefusedBadFrame, "payload_len"},
				{"name too long", dataFrame(long, []byte("hi"), nil), false, transport.RefusedBadFrame, "name_len"},
				{"bad name bytes", dataFrame("f/n", []byte("hi"), nil), false, transport.RefusedBadFrame, "name"},
				{"bad crc", dataFrame("fn", []byte("hello"), func(h *wire.Header) { h.Flags = wire.FlagCRC; h.CRC = 1 }), false, transport.RefusedBadFrame, "crc32c mismatch"},
				{"truncated payload", dataFrame("fn", make([]byte, 1000), nil)[:wire.HeaderSize+2+500], true, transport.RefusedTruncated, "truncated"},
				{"stalled payload", dataFrame("fn", make([]byte, 1000), nil)[:wire.HeaderSize+2+500], false, transport.RefusedStalled, "timeout"},
				{"garbage", pattern(4096, 9), false, transport.RefusedBadFrame, "bad frame"},
				{"truncated header", []byte("RRF1\x01"), true, transport.RefusedTruncated, "header"},
			} {
				t.Run(c.name, func(t *testing.T) {
					before := s.refusals(c.reason)
					nc, err := net.Dial(network.String(), addr)
					if err != nil {
						t.Fatal(err)
					}
					defer nc.Close()
					if _, err := nc.Write(c.bytes); err != nil {
						t.Fatal(err)
					}
					if c.hangUp {
						nc.(interface{ CloseWrite() error }).CloseWrite()
					}
					nc.SetReadDeadline(time.Now().Add(5 * time.Second))
					n, err := io.Copy(io.Discard, nc)
					if err != nil && !errors.Is(err, syscall.ECONNRESET) {
						t.Fatalf("connection not closed by the server: %v", err)
					}
					if n != 0 {
						t.Fatalf("server answered %d bytes to a bad frame, want none", n)
					}
					waitFor(t, func() bool { return s.refusals(c.reason) == before+1 }, "refusal %s", c.reason)
					waitFor(t, func() bool { return strings.Contains(s.log.String(), c.logs) }, "log line with %q", c.logs)
					if _, err := good.Send(context.Background(), "fn", []byte("still served"), nil); err != nil {
						t.Fatalf("good peer after %s: %v", c.name, err)
					}
				})
			}
			if d := sk.delivered.Load(); d != 11 {
				t.Errorf("sink handled %d payloads, want only the good peer's 11", d)
			}
		})
	}
}

// TestBufferReuse: the sender overwrites its buffer the moment Send returns;
// every payload still arrives as it was when sent. This is what the ACK
// buys the splice mechanism, whose pages the kernel references.
func TestBufferReuse(t *testing.T) {
	for _, m := range mechanisms {
		t.Run(m.String(), func(t *testing.T) {
			t.Parallel()
			var bad atomic.Int64
			sk := &sink{handle: func(_ context.Context, _ string, b []byte) error {
				if len(b) < 16 {
					return nil
				}
				seed := binary.LittleEndian.Uint64(b)
				want := pattern(len(b)-8, seed)
				if !bytes.Equal(b[8:], want) {
					bad.Add(1)
					return errHandler
				}
				return nil
			}}
			s := startServer(t, m.path, sk, m.server())
			copied := 0
			p := newPeer(t, s.addr, m.dial(transport.DialOptions{OnZeroCopyCopied: func() { copied++ }}))
			if m.zc {
				transport.KeepZeroCopy(p)
			}
			buf := make([]byte, 8<<20)
			for i := range 200 {
				size := 16 + (i*7919)%(64<<10)
				if i%20 == 19 {
					size = 8<<20 - i
				}
				b := buf[:size]
				binary.LittleEndian.PutUint64(b, uint64(i))
				copy(b[8:], pattern(size-8, uint64(i)))
				if _, err := p.Send(context.Background(), "check", b, nil); err != nil {
					t.Fatalf("transfer %d (%d B): %v", i, size, err)
				}
				for j := range b {
					b[j] = 0xA5
				}
			}
			if n := bad.Load(); n != 0 {
				t.Fatalf("%d payloads arrived altered", n)
			}
			if m.zc {
				// Every payload went with SEND_ZC, its buffer overwritten
				// as soon as Send returned.
				if n := transport.ZeroCopySends(p); n < 200 {
					t.Errorf("%d zero-copy sends, want one per transfer at least", n)
				}
				if copied != 0 {
					t.Errorf("zero copy turned off %d times, want none (kept on)", copied)
				}
			}
		})
	}
}

// TestConcurrent: many senders share one peer's pool of connections.
func TestConcurrent(t *testing.T) {
	for _, m := range socketKinds {
		t.Run(m.String(), func(t *testing.T) {
			sk := &sink{handle: func(_ context.Context, _ string, b []byte) error {
				if !bytes.Equal(b, pattern(len(b), 5)) {
					return errHandler
				}
				time.Sleep(time.Millisecond)
				return nil
			}}
			s := startServer(t, m.path, sk, m.server())
			p := newPeer(t, s.addr, m.dial(transport.DialOptions{MaxConns: 4}))
			var wg sync.WaitGroup
			errs := make(chan error, 16)
			for g := range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 20 {
						if _, err := p.Send(context.Background(), "fn", pattern(1000+g*100+i, 5), nil); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if open, _ := p.Conns(); open > 4 {
				t.Fatalf("%d connections, want at most MaxConns 4", open)
			}
		})
	}
}

// TestCancel: a context ending while the receiver handles the payload ends
// the send at once, and the connection is not reused.
func TestCancel(t *testing.T) {
	release := make(chan struct{})
	sk := &sink{handle: func(ctx context.Context, _ string, b []byte) error {
		if string(b) == "block" {
			<-release
		}
		return nil
	}}
	s := startServer(t, transport.PathUnix, sk, nil)
	defer close(release)
	p := newPeer(t, s.addr, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	// Without the cancellation the send would wait for the handler,
	// which waits for the test's end.
	var err error
	returnsWithin(t, 30*time.Second, "the canceled send", func() { _, err = p.Send(ctx, "fn", []byte("block"), nil) })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the deadline", err)
	}
	if open, _ := p.Conns(); open != 0 {
		t.Fatalf("%d connections open: the canceled one must be closed", open)
	}
}

// returnsWithin runs fn and fails the test if fn has not returned after
// limit: a bound generous enough for a loaded machine, against a hang, not
// a measurement of speed.
func returnsWithin(t *testing.T, limit time.Duration, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(limit):
		t.Fatalf("%s: still running after %v", what, limit)
	}
}

// TestPeerRestart: a node that stops and comes back on the same socket is
// reached again: the dead idle connection is noticed before it is used.
func TestPeerRestart(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "rr.sock")
	serve := func() (*transport.Server, chan error) {
		ln, err := transport.ListenUnix(sock, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		srv := transport.NewServer(&sink{}, transport.PathUnix, nil)
		done := make(chan error, 1)
		go func() { done <- srv.Serve(ln) }()
		return srv, done
	}
	srv, done := serve()
	p := newPeer(t, "unix://"+sock, nil)
	if _, err := p.Send(context.Background(), "fn", []byte("one"), nil); err != nil {
		t.Fatal(err)
	}
	srv.Close(context.Background())
	<-done
	srv, done = serve()
	defer func() { srv.Close(context.Background()); <-done }()
	if _, err := p.Send(context.Background(), "fn", []byte("two"), nil); err != nil {
		t.Fatalf("after the peer restarted: %v", err)
	}
}

func TestListenUnix(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "node.sock")

	ln, err := transport.ListenUnix(sock, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, want a socket with 0600", fi.Mode())
	}
	if ln.Addr().String() != sock {
		t.Fatalf("Addr %q, want %q", ln.Addr(), sock)
	}

	// A live listener is not stolen, by this process or another.
	if _, err := transport.ListenUnix(sock, 0, -1); !errors.Is(err, transport.ErrAddrInUse) {
		t.Fatalf("second listener: %v, want ErrAddrInUse", err)
	}

	// A stale socket (its node gone without cleaning up) is replaced.
	stale := filepath.Join(dir, "stale.sock")
	raw, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	raw.SetUnlinkOnClose(false)
	raw.Close()
	if _, err := os.Lstat(stale); err != nil {
		t.Fatalf("stale socket file missing: %v", err)
	}
	ln2, err := transport.ListenUnix(stale, 0o660, os.Getgid())
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	if fi, _ := os.Lstat(stale); fi.Mode().Perm() != 0o660 {
		t.Fatalf("mode %v, want 0660", fi.Mode().Perm())
	}
	c, err := net.Dial("unix", stale)
	if err != nil {
		t.Fatalf("dial the replacement: %v", err)
	}
	c.Close()
	ln2.Close()
	if _, err := os.Lstat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("socket left behind after Close: %v", err)
	}

	// A regular file is not a socket to replace.
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("keep me"), 0o644)
	if _, err := transport.ListenUnix(file, 0, -1); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("listening over a regular file: %v", err)
	}
	if b, _ := os.ReadFile(file); string(b) != "keep me" {
		t.Fatal("regular file clobbered")
	}
	ln.Close()
}

func TestParseAddress(t *testing.T) {
	for _, c := range []struct {
		in   string
		path transport.Path
		addr string
	}{
		{"unix:///run/rr/a.sock", transport.PathUnix, "/run/rr/a.sock"},
		{"tcp://198.18.0.2:7070", transport.PathTCP, "198.18.0.2:7070"},
		{"tcp://[::1]:7070", transport.PathTCP, "[::1]:7070"},
		{"tcp://localhost:1", transport.PathTCP, "localhost:1"},
	} {
		path, addr, err := transport.ParseAddress(c.in)
		if err != nil || path != c.path || addr != c.addr {
			t.Errorf("%s: %v %q %v", c.in, path, addr, err)
		}
	}
	for _, in := range []string{"", "unix://rel/a.sock", "unix:", "tcp://host", "tcp://host:0", "tcp://host:99999", "http://x:1", "tcp://h:1/path"} {
		if _, _, err := transport.ParseAddress(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

// TestSendAllocs: the steady state of a send allocates nothing with a
// context that never ends, and only the context watch (context.AfterFunc's
// registration) with one that can.
func TestSendAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	sk := &sink{reuse: true}
	s := startServer(t, transport.PathUnix, sk, nil)
	p := newPeer(t, s.addr, nil)
	payload := pattern(1024, 1)
	cancelable, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, c := range []struct {
		name string
		ctx  context.Context
		max  float64
	}{
		{"background", context.Background(), 0},
		{"cancelable", cancelable, 2},
	} {
		if _, err := p.Send(c.ctx, "fn", payload, nil); err != nil {
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := p.Send(c.ctx, "fn", payload, nil); err != nil {
				t.Fatal(err)
			}
		})
		if allocs > c.max {
			t.Errorf("%s context: %v allocations per send, want at most %v", c.name, allocs, c.max)
		}
	}
}

// TestSendNothingCarried: a transfer that fails before a connection takes
// it says that nothing carried it, not a mechanism it never used.
func TestSendNothingCarried(t *testing.T) {
	// No socket at that path: the dial fails, deterministically (a freed
	// tcp port could be taken by another process meanwhile).
	p := newPeer(t, "unix://"+filepath.Join(t.TempDir(), "none.sock"), nil)
	sent, err := p.Send(context.Background(), "fn", []byte("x"), nil)
	if err == nil || !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("err = %v, want the failed dial", err)
	}
	if sent.Mechanism != transport.MechanismNone || sent.Landed != 0 {
		t.Fatalf("sent = %+v, want MechanismNone and nothing landed", sent)
	}
}
