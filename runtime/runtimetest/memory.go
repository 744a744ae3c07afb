package runtimetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/runtime"
)

// expectTooBig checks that a delivery failed because the guest could not
// grow its memory: rr_alloc returned 0 (CodeAllocFailed), or the guest
// trapped or exited (a Go guest's runtime throws "out of memory").
func expectTooBig(tb testing.TB, n int, err error) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("a %d-byte payload past MaxMemory was delivered", n)
	}
	if c := runtime.CodeOf(err); c != runtime.CodeAllocFailed && c != runtime.CodeReceiverTrapped {
		tb.Fatalf("Deliver(%d bytes) past MaxMemory: %v (code %v), want %v or %v", n, err, c, runtime.CodeAllocFailed, runtime.CodeReceiverTrapped)
	}
}

// A function's MaxMemory caps what its guest may grow to: a payload that
// does not fit fails cleanly, the function goes on serving payloads that
// do, and so does a guest that grows its memory on its own.
func (s *suite) maxMemory(t *testing.T) {
	e := s.engine(t)
	const limit = 16 << 20
	fn, _ := s.loadSpec(t, e, runtime.FunctionSpec{Name: "capped", Module: s.module, PoolSize: 1, MaxMemory: limit})
	echo(t, fn, pattern(1<<20, 1))
	for i, n := range []int{limit, 64 << 20} {
		_, err := deliver(context.Background(), fn, pattern(n, byte(i)))
		expectTooBig(t, n, err)
		echo(t, fn, pattern(1<<20, byte(i+2)))
	}
	// The guest grows by itself (allocates and touches 32 MiB): it cannot
	// pass the limit either.
	if _, err := deliver(context.Background(), fn, control('G', u32(32)...)); err == nil {
		t.Fatal("a guest grew its memory by 32 MiB under a 16 MiB MaxMemory")
	}
	echo(t, fn, pattern(4<<20, 9))
	if st := fn.Stats(); st.Live > st.Size {
		t.Fatalf("Stats() = %+v: more instances than the pool's size", st)
	}

	// A MaxMemory above the engine's own limit is that limit: the
	// function loads and serves.
	big, _ := s.loadSpec(t, e, runtime.FunctionSpec{Name: "uncapped", Module: s.module, PoolSize: 1, MaxMemory: 1 << 40})
	echo(t, big, pattern(1<<20, 3))
}

// Load refuses a MaxMemory under one page, and one below the minimum
// memory the module declares, with a message that names both sizes.
func (s *suite) maxMemoryLoad(t *testing.T) {
	e := s.engine(t)
	minimal := func(pages uint32) []byte { return assembleMemory(pages, fnAlloc, fnHandle) }
	refuse := func(t *testing.T, spec runtime.FunctionSpec, want ...string) {
		t.Helper()
		fn, err := e.Load(context.Background(), spec, &host{})
		if err == nil {
			fn.Close(context.Background())
			t.Fatalf("Load with MaxMemory %d succeeded", spec.MaxMemory)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Fatalf("Load: %v; want the message to name %q", err, w)
			}
		}
	}
	t.Run("under one page", func(t *testing.T) {
		refuse(t, runtime.FunctionSpec{Name: "tiny", Module: minimal(1), MaxMemory: 1000}, "1000")
	})
	t.Run("below the module's minimum", func(t *testing.T) {
		// 4 pages declared, 3 pages and a bit allowed: rounded down to 3.
		refuse(t, runtime.FunctionSpec{Name: "small", Module: minimal(4), MaxMemory: 3<<16 + 100},
			fmt.Sprint(4<<16), fmt.Sprint(3<<16))
	})
	t.Run("below the guest's minimum", func(t *testing.T) {
		// A Go guest declares megabytes.
		refuse(t, runtime.FunctionSpec{Name: "small", Module: s.module, MaxMemory: runtime.PageSize}, fmt.Sprint(runtime.PageSize))
	})
	t.Run("at the module's minimum", func(t *testing.T) {
		fn, _ := s.loadSpec(t, e, runtime.FunctionSpec{Name: "exact", Module: minimal(4), PoolSize: 1, MaxMemory: 4<<16 + 100})
		if err := fn.Deliver(context.Background(), 1, func(dst []byte) error { dst[0] = 1; return nil }); err != nil {
			t.Fatalf("Deliver: %v", err)
		}
	})
}

// An instance whose memory is above RecycleAbove when it returns to the
// pool is closed, whatever the delivery's outcome, and the next delivery
// gets a fresh one; an instance below it is kept.
func (s *suite) recycleAbove(t *testing.T) {
	e := s.engine(t)
	const threshold = 32 << 20 // well above a fresh Go guest, below what 64 MiB makes it grow to
	fn, _ := s.loadSpec(t, e, runtime.FunctionSpec{Name: "recycling", Module: s.module, PoolSize: 2, RecycleAbove: threshold})
	expect := func(t *testing.T, recycled uint64) {
		t.Helper()
		st := fn.Stats()
		if st.Recycled != recycled || st.Replaced != 0 || st.Live > st.Size {
			t.Fatalf("Stats() = %+v, want Recycled %d, Replaced 0, Live <= Size", st, recycled)
		}
	}
	for i := range 3 {
		echo(t, fn, pattern(1<<20, byte(i)))
	}
	expect(t, 0)
	allocs, _ := counts(t, fn)
	if allocs != 3 {
		t.Fatalf("the instance has seen %d allocations, want 3: small deliveries recycled it", allocs)
	}

	echo(t, fn, pattern(64<<20, 4))
	expect(t, 1)
	if allocs, handles := counts(t, fn); allocs != 0 || handles != 0 {
		t.Fatalf("after a recycle, the instance has seen %d allocations and %d handles, want a fresh one", allocs, handles)
	}
	echo(t, fn, pattern(1<<10, 5))
	expect(t, 1)

	// A delivery that fails after the guest grew (the fill fails, as an
	// aborted transfer does) recycles too.
	boom := errors.New("transfer aborted")
	if err := fn.Deliver(context.Background(), 64<<20, func([]byte) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("Deliver: %v, want the fill's error", err)
	}
	expect(t, 2)
	echo(t, fn, pattern(1<<20, 6))
	expect(t, 2)

	// Without RecycleAbove, nothing is recycled.
	keep, _ := s.load(t, e, s.module, 1)
	echo(t, keep, pattern(64<<20, 7))
	if st := keep.Stats(); st.Recycled != 0 {
		t.Fatalf("Stats() = %+v: recycled without RecycleAbove", st)
	}
}
