package transport_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/transport"
	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

// traceSink records the trace context of every delivery.
type traceSink struct {
	sink
	mu     sync.Mutex
	traces []transport.TraceContext
}

func (s *traceSink) Deliver(ctx context.Context, from *transport.Origin, to string, n uint64, fill func([]byte) error) error {
	s.mu.Lock()
	s.traces = append(s.traces, from.Trace)
	s.mu.Unlock()
	return s.sink.Deliver(ctx, from, to, n, fill)
}

func (s *traceSink) last() transport.TraceContext {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.traces) == 0 {
		return transport.TraceContext{}
	}
	return s.traces[len(s.traces)-1]
}

// newTrace is a trace context that differs for each seed.
func newTrace(seed byte) transport.TraceContext {
	tc := transport.TraceContext{Flags: wire.TraceFlagSampled}
	for i := range tc.TraceID {
		tc.TraceID[i] = seed + byte(i)
	}
	for i := range tc.SpanID {
		tc.SpanID[i] = 0xa0 + seed + byte(i)
	}
	return tc
}

// TestTraceContext: a trace context crosses with its frame on every send
// mechanism, with the payload and the reply intact behind it, whatever the
// payload's size; a frame sent without one (or with an invalid one)
// arrives without one, on the same connection.
func TestTraceContext(t *testing.T) {
	for _, m := range mechanisms {
		t.Run(m.String(), func(t *testing.T) {
			t.Parallel()
			key := newKey()
			sk := &traceSink{}
			so := m.server()
			so.Auth, so.Trace = newAuth(t, "lis", 0, key), true
			s := startServer(t, m.path, sk, so)
			p := newPeer(t, s.addr, m.dial(transport.DialOptions{Auth: newAuth(t, "dia", 0, key), Trace: true, Verify: true}))
			for i, size := range []int{0, 1, 4095, 1 << 20, 1<<20 + 4097} {
				want := pattern(size, uint64(i))
				tc := newTrace(byte(i))
				if i%2 == 1 {
					tc.Flags = 0 // not sampled: carried all the same
				}
				var reply bytes.Buffer
				sent, err := p.SendWith(context.Background(), "echo", want, &reply, &transport.SendOptions{Trace: tc})
				if err != nil {
					t.Fatalf("%d B: %v", size, err)
				}
				if got := sk.last(); got != tc {
					t.Errorf("%d B, %v: the sink was told %v, want %v", size, sent.Mechanism, got, tc)
				}
				if !bytes.Equal(reply.Bytes(), want) {
					t.Fatalf("%d B: reply differs", size)
				}
				// The next frame on the connection, without a trace.
				for _, o := range []*transport.SendOptions{nil, {}, {Trace: transport.TraceContext{TraceID: tc.TraceID}}} {
					if _, err := p.SendWith(context.Background(), "fn", want, nil, o); err != nil {
						t.Fatalf("%d B without a trace: %v", size, err)
					}
					if got := sk.last(); got != (transport.TraceContext{}) {
						t.Errorf("%d B sent with %+v: the sink was told %v", size, o, got)
					}
				}
			}
			if open, _ := p.Conns(); open != 1 {
				t.Errorf("%d connections, want 1 reused", open)
			}
		})
	}
}

// TestTraceContextOldPeer: a listener whose HELLO does not say HelloTrace
// (an old node, or one without ServerOptions.Trace) never gets a trace
// context, and a dialer without DialOptions.Trace sends none; either way
// the sends succeed.
func TestTraceContextOldPeer(t *testing.T) {
	for _, path := range []transport.Path{transport.PathUnix, transport.PathTCP} {
		for _, c := range []struct {
			name         string
			server, dial bool
		}{{"old listener", false, true}, {"old dialer", true, false}, {"neither", false, false}} {
			t.Run(path.String()+"/"+c.name, func(t *testing.T) {
				sk := &traceSink{}
				dia := &directory{d: wire.Directory{Name: "dia", Functions: []string{"a"}}}
				lis := &directory{d: wire.Directory{Name: "lis", Functions: []string{"fn"}}}
				s := startServer(t, path, sk, &transport.ServerOptions{Directory: lis.get, Trace: c.server})
				p := newPeer(t, s.addr, &transport.DialOptions{Directory: dia.get, Trace: c.dial})
				var hops bytes.Buffer
				if _, err := p.SendWith(context.Background(), "fn", []byte("x"), nil, &transport.SendOptions{Depth: 3, Hops: &hops, Trace: newTrace(1)}); err != nil {
					t.Fatal(err)
				}
				if got := sk.last(); got != (transport.TraceContext{}) {
					t.Errorf("the sink was told %v: want no trace context", got)
				}
				if sk.delivered.Load() != 1 {
					t.Errorf("%d deliveries, want 1", sk.delivered.Load())
				}
			})
		}
	}
}

// TestTraceContextRefused: a DATA frame with FlagTrace to a listener that
// did not offer it, or with a malformed trace context, is a bad frame: the
// connection closes, nothing reaches the sink, and the listener goes on
// serving others.
func TestTraceContextRefused(t *testing.T) {
	good := newTrace(7)
	for _, c := range []struct {
		name   string
		offer  bool
		edit   func(b []byte) // the trace context's bytes
		reason string
	}{
		{"not offered", false, func([]byte) {}, "trace flag on a connection"},
		{"version", true, func(b []byte) { b[0] = 1 }, "version not 0"},
		{"trace id", true, func(b []byte) { clear(b[1:17]) }, "trace id all zero"},
		{"span id", true, func(b []byte) { clear(b[17:25]) }, "span id all zero"},
		{"flags", true, func(b []byte) { b[25] = 0x80 }, "flags other than"},
	} {
		t.Run(c.name, func(t *testing.T) {
			sk := &traceSink{}
			s := startServer(t, transport.PathTCP, sk, &transport.ServerOptions{Trace: c.offer})
			conn, err := net.Dial("tcp", strings.TrimPrefix(s.addr, "tcp://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			payload := []byte("payload")
			h := wire.Header{Kind: wire.KindData, Flags: wire.FlagTrace, NameLen: 2, PayloadLen: uint64(len(payload)), ID: 1}
			frame := append(wire.AppendHeader(nil, &h), "fn"...)
			var tb [wire.TraceContextSize]byte
			good.Put(tb[:])
			c.edit(tb[:])
			frame = append(append(frame, tb[:]...), payload...)
			conn.Write(frame)
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			if b, err := io.ReadAll(conn); err != nil || len(b) != 0 {
				t.Fatalf("the listener answered %q, %v: want the connection closed without an answer", b, err)
			}
			waitFor(t, func() bool { return s.refusals(transport.RefusedBadFrame) == 1 }, "a bad frame counted")
			if !strings.Contains(s.log.String(), c.reason) {
				t.Errorf("the refusal does not say %q:\n%s", c.reason, s.log)
			}
			if sk.fills.Load() != 0 {
				t.Errorf("%d fills: the frame reached the sink", sk.fills.Load())
			}
			p := newPeer(t, s.addr, nil)
			if _, err := p.Send(context.Background(), "fn", payload, nil); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestSendTraceAllocs: carrying a trace context costs a send no
// allocation.
func TestSendTraceAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	key := newKey()
	sk := &traceSink{sink: sink{reuse: true}}
	s := startServer(t, transport.PathUnix, sk, &transport.ServerOptions{Auth: newAuth(t, "lis", 0, key), Trace: true})
	p := newPeer(t, s.addr, &transport.DialOptions{Auth: newAuth(t, "dia", 0, key), Trace: true})
	payload := pattern(1024, 1)
	o := &transport.SendOptions{Trace: newTrace(3)}
	if _, err := p.SendWith(context.Background(), "fn", payload, nil, o); err != nil {
		t.Fatal(err)
	}
	sk.traces = make([]transport.TraceContext, 0, 1000)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := p.SendWith(context.Background(), "fn", payload, nil, o); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0 {
		t.Errorf("%v allocations per send with a trace context, want 0", allocs)
	}
	if got := sk.last(); got != o.Trace {
		t.Errorf("the sink was told %v, want %v", got, o.Trace)
	}
}
