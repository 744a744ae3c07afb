package wazero_test

import (
	"context"
	"os"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/internal/wasmbuild"
	"github.com/roadrunner-wasm/roadrunner/runtime"
	"github.com/roadrunner-wasm/roadrunner/runtime/runtimetest"
	"github.com/roadrunner-wasm/roadrunner/runtime/wazero"
)

func TestMain(m *testing.M) {
	code := m.Run()
	wasmbuild.Cleanup()
	os.Exit(code)
}

func TestConformance(t *testing.T) {
	cache := t.TempDir() // shared by the suite's engines: each compiles once
	runtimetest.Run(t, func(tb testing.TB) runtime.Engine {
		e, err := wazero.New(context.Background(), &wazero.Options{CacheDir: cache})
		if err != nil {
			tb.Fatal(err)
		}
		return e
	})
}

// TestCompilationCacheSurvivesRestart: a restart finds the compiled module
// on disk and recompiles nothing.
func TestCompilationCacheSurvivesRestart(t *testing.T) {
	runtimetest.CacheSurvivesRestart(t, func(dir string) runtime.Engine {
		e, err := wazero.New(context.Background(), &wazero.Options{CacheDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		return e
	})
}

func TestSharedMemory(t *testing.T) {
	runtimetest.RunShared(t, func(tb testing.TB) runtime.Engine {
		e, err := wazero.New(context.Background(), nil)
		if err != nil {
			tb.Fatal(err)
		}
		return e
	})
}

// TestSharedMemoryMaxMemory: a function's MaxMemory sizes the slots of its
// shared file (one per instance and one spare), instead of the engine's
// 4 GiB limit, and still caps what a guest may grow to.
func TestSharedMemoryMaxMemory(t *testing.T) {
	ctx := context.Background()
	e, err := wazero.New(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	const pool, limit = 2, 64 << 20
	fn, err := e.Load(ctx, runtime.FunctionSpec{Name: "shared", Module: runtimetest.GuestModule(t), PoolSize: pool, SharedMemory: true, MaxMemory: limit}, nopHost{})
	if err != nil {
		t.Fatal(err)
	}
	defer fn.Close(ctx)
	sm, err := fn.(runtime.Sharer).SharedMemory()
	if err != nil {
		t.Fatalf("SharedMemory: %v", err)
	}
	st, err := sm.File().Stat()
	if err != nil {
		t.Fatal(err)
	}
	if want := int64((pool + 1) * limit); st.Size() != want {
		t.Fatalf("shared file of %d bytes, want %d: %d slots of MaxMemory", st.Size(), want, pool+1)
	}
	deliver := func(n int) error {
		return fn.Deliver(ctx, uint32(n), func(dst []byte) error {
			if _, ok := sm.Offset(dst); !ok {
				t.Errorf("a view of %d bytes is not in the shared file", n)
			}
			return nil
		})
	}
	if err := deliver(1 << 20); err != nil {
		t.Fatalf("Deliver 1 MiB: %v", err)
	}
	if err := deliver(limit); err == nil {
		t.Fatal("a payload of MaxMemory bytes was delivered: the guest outgrew its limit")
	}
	if err := deliver(1 << 20); err != nil {
		t.Fatalf("Deliver 1 MiB after a refused payload: %v", err)
	}
}

type nopHost struct{}

func (nopHost) Send(context.Context, string, string, []byte) error {
	return runtime.CodeUnknownFunction
}
func (nopHost) Reply(context.Context, string, []byte) error { return nil }

// TestRecycleAboveAllocs: with RecycleAbove set and not reached, a
// delivery still allocates nothing (the pool asks the instance its memory
// size on every release).
func TestRecycleAboveAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts: the race detector allocates on its own")
	}
	ctx := context.Background()
	e, err := wazero.New(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	fn, err := e.Load(ctx, runtime.FunctionSpec{Name: "f", Module: runtimetest.GuestModule(t), PoolSize: 1, Uninterruptible: true, RecycleAbove: 1 << 30}, nopHost{})
	if err != nil {
		t.Fatal(err)
	}
	defer fn.Close(ctx)
	p := []byte("\x00RRCN") // the guest does nothing with it
	fill := func(dst []byte) error { copy(dst, p); return nil }
	deliver := func() {
		if err := fn.Deliver(ctx, uint32(len(p)), fill); err != nil {
			t.Fatal(err)
		}
	}
	deliver()
	if n := testing.AllocsPerRun(100, deliver); n != 0 {
		t.Fatalf("a delivery allocates %.1f times with RecycleAbove set, want 0", n)
	}
	if st := fn.Stats(); st.Recycled != 0 {
		t.Fatalf("Stats() = %+v: recycled below the threshold", st)
	}
}
