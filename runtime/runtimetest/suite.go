package runtimetest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/internal/wasmbuild"
	"github.com/roadrunner-wasm/roadrunner/runtime"
)

// GuestPackage is the import path of the suite's guest.
const GuestPackage = "github.com/roadrunner-wasm/roadrunner/runtime/runtimetest/testdata/conformance"

// GuestModule returns the suite's guest module, built once per test binary.
func GuestModule(tb testing.TB) []byte {
	tb.Helper()
	return wasmbuild.ModuleForTest(tb, GuestPackage)
}

// NewEngine makes the engine under test. The suite closes it.
type NewEngine func(tb testing.TB) runtime.Engine

// Run runs the conformance suite against the engines made by newEngine.
func Run(t *testing.T, newEngine NewEngine) {
	s := &suite{newEngine: newEngine, module: GuestModule(t)}
	t.Run("Identity", s.identity)
	t.Run("LoadRefusesBadModules", s.loadRefuses)
	t.Run("RoundTrip", s.roundTrip)
	t.Run("MemoryGrowsBetweenCalls", s.memoryGrows)
	t.Run("BadPointers", s.badPointers)
	t.Run("SendReachesHost", s.sendReachesHost)
	t.Run("AllocFailures", s.allocFailures)
	t.Run("FillError", s.fillError)
	t.Run("Trap", s.trap)
	t.Run("UnreachableTrap", s.unreachable)
	t.Run("HandleFails", s.handleFails)
	t.Run("Interrupt", s.interrupt)
	t.Run("Uninterruptible", s.uninterruptible)
	t.Run("Concurrent", s.concurrent)
	t.Run("Closed", s.closed)
	t.Run("CloseWaitsForDeliveries", s.closeWaits)
	t.Run("MaxMemory", s.maxMemory)
	t.Run("MaxMemoryLoad", s.maxMemoryLoad)
	t.Run("RecycleAbove", s.recycleAbove)
}

type suite struct {
	newEngine NewEngine
	module    []byte
}

func (s *suite) engine(tb testing.TB) runtime.Engine {
	tb.Helper()
	e := s.newEngine(tb)
	tb.Cleanup(func() {
		if err := e.Close(context.Background()); err != nil {
			tb.Errorf("close engine: %v", err)
		}
	})
	return e
}

// load loads module as a function named "conformance" with the given
// pool size.
func (s *suite) load(tb testing.TB, e runtime.Engine, module []byte, pool int) (runtime.Function, *host) {
	tb.Helper()
	return s.loadSpec(tb, e, runtime.FunctionSpec{Name: "conformance", Module: module, PoolSize: pool})
}

// loadSpec loads spec and closes the function when the test ends.
func (s *suite) loadSpec(tb testing.TB, e runtime.Engine, spec runtime.FunctionSpec) (runtime.Function, *host) {
	tb.Helper()
	h := &host{}
	fn, err := e.Load(context.Background(), spec, h)
	if err != nil {
		tb.Fatalf("Load: %v", err)
	}
	tb.Cleanup(func() {
		if err := fn.Close(context.Background()); err != nil {
			tb.Errorf("close function: %v", err)
		}
		if h.orphan != 0 {
			tb.Errorf("%d host calls arrived without the caller's context", h.orphan)
		}
	})
	return fn, h
}

// deliver copies payload into the function and returns what it replied.
func deliver(ctx context.Context, fn runtime.Function, payload []byte) (*call, error) {
	ctx, c := withCall(ctx)
	err := fn.Deliver(ctx, uint32(len(payload)), func(dst []byte) error {
		if len(dst) != len(payload) {
			return fmt.Errorf("view of %d bytes for a %d-byte payload", len(dst), len(payload))
		}
		if cap(dst) != len(dst) {
			return fmt.Errorf("view has capacity %d beyond its length %d: append would spill into guest memory", cap(dst), len(dst))
		}
		copy(dst, payload)
		return nil
	})
	return c, err
}

func control(op byte, args ...byte) []byte {
	return append([]byte{0, 'R', 'R', 'C', op}, args...)
}

func u32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

// expectCode checks that c holds exactly one 4-byte reply equal to want.
func expectCode(tb testing.TB, c *call, want runtime.Code) {
	tb.Helper()
	if len(c.replies) != 1 || len(c.replies[0]) != 4 {
		tb.Fatalf("want one 4-byte code reply, got %d replies", len(c.replies))
	}
	if got := runtime.Code(int32(binary.LittleEndian.Uint32(c.replies[0]))); got != want {
		tb.Fatalf("guest got code %d (%v), want %d (%v)", got, got, want, want)
	}
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed)*2654435761 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// echo delivers payload and checks that it comes back intact.
func echo(tb testing.TB, fn runtime.Function, payload []byte) {
	tb.Helper()
	c, err := deliver(context.Background(), fn, payload)
	if err != nil {
		tb.Fatalf("Deliver(%d bytes): %v", len(payload), err)
	}
	if len(c.replies) != 1 {
		tb.Fatalf("Deliver(%d bytes): %d replies, want 1", len(payload), len(c.replies))
	}
	if got := c.replies[0]; !bytes.Equal(got, payload) {
		tb.Fatalf("Deliver(%d bytes): reply of %d bytes differs from the payload (first difference at %d)", len(payload), len(got), firstDiff(got, payload))
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// counts returns how many times the guest's rr_alloc and rr_handle ran,
// not counting this query's own calls.
func counts(tb testing.TB, fn runtime.Function) (allocs, handles uint32) {
	tb.Helper()
	c, err := deliver(context.Background(), fn, control('C'))
	if err != nil || len(c.replies) != 1 || len(c.replies[0]) != 8 {
		tb.Fatalf("count query failed: %v", err)
	}
	return binary.LittleEndian.Uint32(c.replies[0]) - 1, binary.LittleEndian.Uint32(c.replies[0][4:]) - 1
}

func expectDeliverCode(tb testing.TB, err error, want runtime.Code) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("Deliver succeeded, want %v", want)
	}
	if got := runtime.CodeOf(err); got != want {
		tb.Fatalf("Deliver: %v (code %v), want code %v", err, got, want)
	}
	if !errors.Is(err, want) {
		tb.Fatalf("errors.Is(%v, %v) is false", err, want)
	}
}

func (s *suite) identity(t *testing.T) {
	e := s.engine(t)
	if e.Name() == "" || e.Version() == "" {
		t.Fatalf("engine name %q, version %q: both must be set", e.Name(), e.Version())
	}
}

func (s *suite) loadRefuses(t *testing.T) {
	e := s.engine(t)
	cases := []struct {
		name   string
		module []byte
		want   string
	}{
		{"not wasm", []byte("definitely not wasm"), ""},
		{"no memory", assemble(false, fnAlloc, fnHandle), "memory"},
		{"no rr_alloc", assemble(true, fnHandle), "rr_alloc"},
		{"no rr_handle", assemble(true, fnAlloc), "rr_handle"},
		{"rr_handle mistyped", assemble(true, fnAlloc, fnHandleBad), "rr_handle"},
		{"command module", assemble(true, fnAlloc, fnHandle, fnStart), "_start"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fn, err := e.Load(context.Background(), runtime.FunctionSpec{Name: "bad", Module: tc.module}, &host{})
			if err == nil {
				fn.Close(context.Background())
				t.Fatal("Load succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load: %v; want the message to name %q", err, tc.want)
			}
		})
	}
	// The hand-assembled modules are valid when complete.
	fn, err := e.Load(context.Background(), runtime.FunctionSpec{Name: "minimal", Module: assemble(true, fnAlloc, fnHandle)}, &host{})
	if err != nil {
		t.Fatalf("Load of a minimal valid module: %v", err)
	}
	fn.Close(context.Background())
}

func (s *suite) roundTrip(t *testing.T) {
	e := s.engine(t)
	fn, _ := s.load(t, e, s.module, 1)
	for _, n := range []int{0, 1, 1 << 20, 64 << 20} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			echo(t, fn, pattern(n, byte(n)))
		})
	}
	// The zero-length payload skipped rr_alloc.
	allocsBefore, _ := counts(t, fn)
	echo(t, fn, nil)
	if allocs, _ := counts(t, fn); allocs != allocsBefore+1 { // +1: the first count query
		t.Fatalf("a zero-length payload called rr_alloc")
	}
}

func (s *suite) memoryGrows(t *testing.T) {
	e := s.engine(t)
	fn, _ := s.load(t, e, s.module, 1)
	echo(t, fn, pattern(1<<20, 1))
	for i := 0; i < 3; i++ {
		if _, err := deliver(context.Background(), fn, control('G', u32(32)...)); err != nil {
			t.Fatalf("grow: %v", err)
		}
		echo(t, fn, pattern(1<<20+i, byte(i+2)))
	}
	echo(t, fn, pattern(64<<20, 9))
}

func (s *suite) badPointers(t *testing.T) {
	e := s.engine(t)
	fn, h := s.load(t, e, s.module, 1)
	cases := []struct {
		name     string
		ptr, len uint32
	}{
		{"past end", 0xFFFF0000, 16},
		{"overflow", 0xFFFFFFF0, 0x20},
		{"huge length", 0, 0xFFFFFFFF},
		{"empty past end", 0xFFFFFFFF, 0},
	}
	for _, tc := range cases {
		for which, target := range []string{"send name", "send data", "reply"} {
			t.Run(tc.name+"/"+target, func(t *testing.T) {
				before := h.count()
				c, err := deliver(context.Background(), fn, control('B', append(append(u32(tc.ptr), u32(tc.len)...), byte(which))...))
				if err != nil {
					t.Fatalf("Deliver: %v", err)
				}
				expectCode(t, c, runtime.CodeBadPointer)
				if h.count() != before+1 { // only the code's own reply
					t.Fatalf("a bad range reached the host")
				}
			})
		}
	}
	echo(t, fn, pattern(4096, 3))
}

func (s *suite) sendReachesHost(t *testing.T) {
	e := s.engine(t)
	fn, _ := s.load(t, e, s.module, 1)
	for _, tc := range []struct {
		to   string
		n    int
		want runtime.Code
	}{
		{"peer", 0, runtime.CodeOK},
		{"peer", 1, runtime.CodeOK},
		{"peer", 1 << 20, runtime.CodeOK},
		{"nobody", 10, runtime.CodeUnknownFunction},
		{"failing", 10, runtime.CodeReceiverFailed},
	} {
		t.Run(fmt.Sprintf("%s/%d", tc.to, tc.n), func(t *testing.T) {
			data := pattern(tc.n, 7)
			c, err := deliver(context.Background(), fn, control('S', append(append([]byte{byte(len(tc.to))}, tc.to...), data...)...))
			if err != nil {
				t.Fatalf("Deliver: %v", err)
			}
			expectCode(t, c, tc.want)
			if len(c.sends) != 1 {
				t.Fatalf("host saw %d sends, want 1", len(c.sends))
			}
			got := c.sends[0]
			if got.from != "conformance" || got.to != tc.to || !bytes.Equal(got.data, data) {
				t.Fatalf("host saw send from %q to %q of %d bytes; want from %q to %q of %d bytes, intact", got.from, got.to, len(got.data), "conformance", tc.to, len(data))
			}
		})
	}
}

func (s *suite) allocFailures(t *testing.T) {
	e := s.engine(t)
	fn, _ := s.load(t, e, s.module, 1)
	for _, mode := range []byte{'z', 'o', 'w'} {
		t.Run(string(mode), func(t *testing.T) {
			if _, err := deliver(context.Background(), fn, control('A', mode)); err != nil {
				t.Fatalf("set alloc mode: %v", err)
			}
			filled := false
			err := fn.Deliver(context.Background(), 32, func([]byte) error { filled = true; return nil })
			expectDeliverCode(t, err, runtime.CodeAllocFailed)
			if filled {
				t.Fatal("fill ran on a failed allocation")
			}
		})
		// The guest's allocator stays broken (a reset would need rr_alloc):
		// go on with a fresh function.
		fn, _ = s.load(t, e, s.module, 1)
	}
	_, handles := counts(t, fn)
	if handles != 0 {
		t.Fatalf("rr_handle ran %d times on a fresh function", handles)
	}
	echo(t, fn, pattern(100, 4))
}

func (s *suite) fillError(t *testing.T) {
	e := s.engine(t)
	fn, _ := s.load(t, e, s.module, 1)
	_, handlesBefore := counts(t, fn)
	boom := errors.New("fill failed")
	err := fn.Deliver(context.Background(), 64, func(dst []byte) error {
		copy(dst, "partial")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Deliver returned %v, want the fill error", err)
	}
	if _, handles := counts(t, fn); handles != handlesBefore+1 { // +1: the first query
		t.Fatalf("rr_handle ran after fill failed")
	}
	echo(t, fn, pattern(64, 5))
}

func (s *suite) trap(t *testing.T) {
	e := s.engine(t)
	fn, _ := s.load(t, e, s.module, 1)
	echo(t, fn, pattern(10, 1))
	_, err := deliver(context.Background(), fn, control('T'))
	expectDeliverCode(t, err, runtime.CodeReceiverTrapped)
	if st := fn.Stats(); st.Replaced != 1 {
		t.Fatalf("Stats().Replaced = %d after a trap, want 1", st.Replaced)
	}
	echo(t, fn, pattern(1<<20, 2))
	if allocs, _ := counts(t, fn); allocs != 1 {
		t.Fatalf("the instance after the trap has seen %d allocations, want 1: it was not replaced", allocs)
	}
}

func (s *suite) unreachable(t *testing.T) {
	e := s.engine(t)
	fn, _ := s.load(t, e, assemble(true, fnAlloc, fnHandleFF), 1)
	ok := func() error {
		return fn.Deliver(context.Background(), 1, func(dst []byte) error { dst[0] = 1; return nil })
	}
	if err := ok(); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	err := fn.Deliver(context.Background(), 1, func(dst []byte) error { dst[0] = 0xff; return nil })
	expectDeliverCode(t, err, runtime.CodeReceiverTrapped)
	if err := ok(); err != nil {
		t.Fatalf("Deliver after a trap: %v", err)
	}
}

func (s *suite) handleFails(t *testing.T) {
	e := s.engine(t)
	fn, _ := s.load(t, e, s.module, 1)
	_, err := deliver(context.Background(), fn, control('F'))
	expectDeliverCode(t, err, runtime.CodeReceiverFailed)
	var de *runtime.DeliverError
	if !errors.As(err, &de) || de.Result != 7 {
		t.Fatalf("Deliver: %v; want a DeliverError with Result 7", err)
	}
	if st := fn.Stats(); st.Replaced != 0 {
		t.Fatalf("a non-zero rr_handle replaced the instance")
	}
	echo(t, fn, pattern(10, 6))
}

func (s *suite) interrupt(t *testing.T) {
	e := s.engine(t)
	fn, _ := s.load(t, e, s.module, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := deliver(ctx, fn, control('W'))
		done <- err
	}()
	select {
	case err := <-done:
		expectDeliverCode(t, err, runtime.CodeCanceled)
	case <-time.After(20 * time.Second):
		t.Fatal("an endless guest was not interrupted 20 s after its context ended")
	}
	echo(t, fn, pattern(10, 8))
}

func (s *suite) concurrent(t *testing.T) {
	e := s.engine(t)
	const pool = 4
	fn, _ := s.load(t, e, s.module, pool)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				n := (g*7919 + i*104729) % (256 << 10)
				p := pattern(n, byte(g+i))
				c, err := deliver(context.Background(), fn, p)
				if err != nil {
					errs <- err
					return
				}
				if len(c.replies) != 1 || !bytes.Equal(c.replies[0], p) {
					errs <- fmt.Errorf("goroutine %d, payload %d: reply differs", g, i)
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
	if st := fn.Stats(); st.Live > pool || st.Size != pool {
		t.Fatalf("Stats() = %+v: more than %d instances", st, pool)
	}
}

func (s *suite) closed(t *testing.T) {
	e := s.engine(t)
	h := &host{}
	fn, err := e.Load(context.Background(), runtime.FunctionSpec{Name: "closing", Module: s.module, PoolSize: 2}, h)
	if err != nil {
		t.Fatal(err)
	}
	echo(t, fn, pattern(10, 1))
	if err := fn.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	_, err = deliver(context.Background(), fn, pattern(10, 2))
	expectDeliverCode(t, err, runtime.CodeCanceled)
}

func (s *suite) closeWaits(t *testing.T) {
	e := s.engine(t)
	fn, err := e.Load(context.Background(), runtime.FunctionSpec{Name: "closing", Module: s.module, PoolSize: 1}, &host{})
	if err != nil {
		t.Fatal(err)
	}
	// A guest that spins until its context ends, 300 ms after it starts.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := deliver(ctx, fn, control('W'))
		done <- err
	}()
	for fn.Stats().Idle != 0 { // the delivery has taken the instance
		time.Sleep(time.Millisecond)
	}
	if err := fn.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// The delivery could end only by its own deadline: if Close returned
	// before that, it did not wait.
	if ctx.Err() == nil {
		t.Fatal("Close returned while a delivery was still in progress")
	}
	select {
	case err := <-done:
		// The delivery ended by its own deadline, not by the function's
		// resources vanishing under it.
		expectDeliverCode(t, err, runtime.CodeCanceled)
		if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "deadline") {
			t.Fatalf("delivery ended with %v, want its own deadline", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the delivery did not return 20 s after Close")
	}
}

// An uninterruptible function (FunctionSpec.Uninterruptible: the engine may
// leave its deadline checks out) works, beside an interruptible one of the
// same engine.
func (s *suite) uninterruptible(t *testing.T) {
	e := s.engine(t)
	h := &host{}
	fast, err := e.Load(context.Background(), runtime.FunctionSpec{Name: "fast", Module: s.module, PoolSize: 1, Uninterruptible: true}, h)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	defer fast.Close(context.Background())
	safe, _ := s.load(t, e, s.module, 1)
	for i, fn := range []runtime.Function{fast, safe, fast} {
		echo(t, fn, pattern(1<<20, byte(i)))
	}
}
