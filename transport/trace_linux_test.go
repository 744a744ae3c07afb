//go:build linux

package transport_test

import (
	"context"
	"sync"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/transport"
	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

// shmTraceSink is a shmSink that records each delivery's trace context.
type shmTraceSink struct {
	*shmSink
	mu    sync.Mutex
	trace transport.TraceContext
}

func (s *shmTraceSink) Deliver(ctx context.Context, from *transport.Origin, to string, n uint64, fill func([]byte) error) error {
	s.mu.Lock()
	s.trace = from.Trace
	s.mu.Unlock()
	return s.shmSink.Deliver(ctx, from, to, n, fill)
}

// TestTraceContextShm: the shm path's DATA frame (no payload behind it)
// carries the trace context too, and so does a payload that the receiver
// asks over the stream instead.
func TestTraceContextShm(t *testing.T) {
	sk := &shmTraceSink{shmSink: newShmSink(t, 8<<20)}
	key := newKey()
	so := &transport.ServerOptions{SharedMemory: true, Trace: true, Auth: newAuth(t, "recv", 0, key), Limits: wire.Limits{MaxPayload: 1 << 30}}
	srv := startServer(t, transport.PathUnix, sk, so)
	p := newPeer(t, srv.addr, &transport.DialOptions{SharedMemory: true, SharedMin: 1, Trace: true, Auth: newAuth(t, "send", 0, key)})
	for i, notShared := range []bool{false, true} {
		sk.mu.Lock()
		sk.shmSink.mu.Lock()
		sk.notShared = notShared
		sk.shmSink.mu.Unlock()
		sk.mu.Unlock()
		payload := pattern(1<<20+3, uint64(i))
		sk.expect(payload)
		tc := newTrace(byte(20 + i))
		sent, err := p.SendWith(context.Background(), "fn", payload, nil, &transport.SendOptions{Trace: tc})
		if err != nil {
			t.Fatal(err)
		}
		want := transport.MechanismShm
		if notShared {
			want = transport.MechanismWritev
		}
		if sent.Mechanism != want {
			t.Errorf("not shared %v: sent by %v, want %v", notShared, sent.Mechanism, want)
		}
		sk.mu.Lock()
		got := sk.trace
		sk.mu.Unlock()
		if got != tc {
			t.Errorf("not shared %v: the sink was told %v, want %v", notShared, got, tc)
		}
	}
	if sk.bad.Load() != 0 {
		t.Fatalf("%d payloads corrupted", sk.bad.Load())
	}
}
