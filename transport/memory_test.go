package transport_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/transport"
)

// bufferSink is an in-process receiver: each name owns a reusable buffer, the
// way a guest's receive buffer works, and handle sees what landed in it.
type bufferSink struct {
	mu    sync.Mutex
	bufs  map[string][]byte
	got   map[string][]byte // what the last delivery to each name handed over
	limit uint64
}

var errUnknown = errors.New("unknown receiver")

func newBufferSink(limit uint64, names ...string) *bufferSink {
	s := &bufferSink{bufs: map[string][]byte{}, got: map[string][]byte{}, limit: limit}
	for _, n := range names {
		s.bufs[n] = make([]byte, limit)
	}
	return s
}

func (s *bufferSink) Deliver(ctx context.Context, from *transport.Origin, to string, n uint64, fill func(dst []byte) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	buf, ok := s.bufs[to]
	if !ok {
		return errUnknown
	}
	if n > s.limit {
		return fmt.Errorf("%d bytes over the limit", n)
	}
	view := buf[:n:n]
	if err := fill(view); err != nil {
		return err
	}
	s.got[to] = view
	return nil
}

func TestMemorySendContent(t *testing.T) {
	const max = 1 << 20
	sink := newBufferSink(max, "receiver")
	m := &transport.Memory{Sink: sink}
	for _, size := range []int{0, 1, 1000, max} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			payload := make([]byte, size)
			for i := range payload {
				payload[i] = byte(i*7 + size)
			}
			landed, err := m.Send(context.Background(), "receiver", payload)
			if err != nil {
				t.Fatal(err)
			}
			if landed <= 0 {
				t.Errorf("landed = %v, want > 0 for a delivered payload", landed)
			}
			got := sink.got["receiver"]
			if !bytes.Equal(got, payload) {
				t.Fatalf("receiver got %d bytes that differ from the %d sent", len(got), len(payload))
			}
			if size > 0 && &got[0] == &payload[0] {
				t.Fatal("receiver's view aliases the sender's payload: no copy was made")
			}
		})
	}
}

func TestMemorySendRefused(t *testing.T) {
	sink := newBufferSink(16, "receiver")
	m := &transport.Memory{Sink: sink}
	landed, err := m.Send(context.Background(), "nobody", []byte("x"))
	if !errors.Is(err, errUnknown) {
		t.Fatalf("send to an unknown receiver: err = %v, want %v", err, errUnknown)
	}
	if landed != 0 {
		t.Errorf("landed = %v for a payload that never landed", landed)
	}
	if _, err := m.Send(context.Background(), "receiver", make([]byte, 17)); err == nil {
		t.Fatal("payload over the sink's limit was accepted")
	}
}

// shortSink lends a view one byte shorter than asked: a broken Sink must get
// an error, not a silently truncated payload.
type shortSink struct{}

func (shortSink) Deliver(ctx context.Context, from *transport.Origin, to string, n uint64, fill func(dst []byte) error) error {
	return fill(make([]byte, n-1))
}

func TestMemorySendViewMismatch(t *testing.T) {
	m := &transport.Memory{Sink: shortSink{}}
	if _, err := m.Send(context.Background(), "x", []byte("abc")); err == nil {
		t.Fatal("a view shorter than the payload was filled without error")
	}
}

func TestMemorySendAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts: sync.Pool drops items at random under the race detector; make test runs this test again without -race")
	}
	sink := newBufferSink(64<<10, "receiver")
	m := &transport.Memory{Sink: sink}
	payload := bytes.Repeat([]byte("roadrunner"), 4<<10)
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := m.Send(ctx, "receiver", payload); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Memory.Send allocates %v times per call, want 0", allocs)
	}
}

// TestMemorySendHammer sends from many goroutines at once, each to its own
// receiver, and checks every payload landed intact (run with -race).
func TestMemorySendHammer(t *testing.T) {
	const workers, rounds = 8, 200
	names := make([]string, workers)
	for i := range names {
		names[i] = fmt.Sprint("r", i)
	}
	sink := newBufferSink(4096, names...)
	m := &transport.Memory{Sink: sink}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := make([]byte, 4096)
			for r := range rounds {
				p = p[:r%4096+1]
				for i := range p {
					p[i] = byte(w + r + i)
				}
				if _, err := m.Send(context.Background(), names[w], p); err != nil {
					errs <- err
					return
				}
				sink.mu.Lock()
				ok := bytes.Equal(sink.got[names[w]], p)
				sink.mu.Unlock()
				if !ok {
					errs <- fmt.Errorf("worker %d round %d: payload corrupted", w, r)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func BenchmarkMemorySend(b *testing.B) {
	for _, size := range []int{1 << 10, 1 << 20, 64 << 20} {
		sink := newBufferSink(uint64(size), "receiver")
		m := &transport.Memory{Sink: sink}
		payload := bytes.Repeat([]byte{0xA5}, size)
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Send(context.Background(), "receiver", payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
