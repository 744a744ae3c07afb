//go:build wasmtime

package wasmtime_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/internal/wasmbuild"
	"github.com/roadrunner-wasm/roadrunner/runtime"
	"github.com/roadrunner-wasm/roadrunner/runtime/runtimetest"
	"github.com/roadrunner-wasm/roadrunner/runtime/wasmtime"
)

func TestMain(m *testing.M) {
	code := m.Run()
	wasmbuild.Cleanup()
	os.Exit(code)
}

func TestConformance(t *testing.T) {
	cache := t.TempDir() // shared by the suite's engines: each compiles once
	runtimetest.Run(t, func(tb testing.TB) runtime.Engine {
		e, err := wasmtime.New(context.Background(), &wasmtime.Options{CacheDir: cache})
		if err != nil {
			tb.Fatal(err)
		}
		return e
	})
}

// TestSharedMemoryIgnored: Wasmtime has no hook to place its memories in a
// memfd; a function loaded with SharedMemory is no runtime.Sharer and
// delivers as usual (its payloads take the stream path).
func TestSharedMemoryIgnored(t *testing.T) {
	runtimetest.RunShared(t, func(tb testing.TB) runtime.Engine {
		e, err := wasmtime.New(context.Background(), nil)
		if err != nil {
			tb.Fatal(err)
		}
		return e
	})
}

type nopHost struct{}

func (nopHost) Send(context.Context, string, string, []byte) error {
	return runtime.CodeUnknownFunction
}
func (nopHost) Reply(context.Context, string, []byte) error { return nil }

// TestCompilationCacheSurvivesRestart: a restart finds the compiled module
// on disk (runtimetest.CacheSurvivesRestart), and a corrupt entry is
// recompiled and replaced.
func TestCompilationCacheSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	open := func(dir string) runtime.Engine {
		e, err := wasmtime.New(ctx, &wasmtime.Options{CacheDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	dir := runtimetest.CacheSurvivesRestart(t, open)
	files := runtimetest.CacheFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("%d files cached in %s, want 1", len(files), dir)
	}
	for p := range files {
		if err := os.WriteFile(filepath.Join(dir, p), []byte("torn"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e := open(dir) // recompiles and replaces the corrupt entry
	fn, err := e.Load(ctx, runtime.FunctionSpec{Name: "f", Module: runtimetest.GuestModule(t), PoolSize: 1}, nopHost{})
	if err != nil {
		t.Fatal(err)
	}
	fn.Close(ctx)
	e.Close(ctx)
	for p := range runtimetest.CacheFiles(t, dir) {
		if b, _ := os.ReadFile(filepath.Join(dir, p)); string(b) == "torn" {
			t.Fatal("a corrupt cache entry was not replaced")
		}
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A trapping Go guest's panic message reaches FunctionSpec.Stderr, through
// the pipe, by the time the function is closed.
func TestGuestOutput(t *testing.T) {
	ctx := context.Background()
	e, err := wasmtime.New(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	var stdout, stderr syncBuffer
	fn, err := e.Load(ctx, runtime.FunctionSpec{Name: "f", Module: runtimetest.GuestModule(t), PoolSize: 1, Stdout: &stdout, Stderr: &stderr}, nopHost{})
	if err != nil {
		t.Fatal(err)
	}
	trap := []byte{0, 'R', 'R', 'C', 'T'}
	err = fn.Deliver(ctx, uint32(len(trap)), func(d []byte) error { copy(d, trap); return nil })
	if err == nil {
		t.Fatal("the trap command did not trap")
	}
	if err := fn.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if out := stdout.String() + stderr.String(); !strings.Contains(out, "panic") {
		t.Fatalf("guest output %q: want the guest's panic message", out)
	}
}

// A context that ends just before its function and engine are closed fires
// its epoch increment after them: it must find the engine closed, not crash.
func TestCancelRacesClose(t *testing.T) {
	cache := t.TempDir() // compile once
	for range 20 {
		ctx := context.Background()
		e, err := wasmtime.New(ctx, &wasmtime.Options{CacheDir: cache})
		if err != nil {
			t.Fatal(err)
		}
		fn, err := e.Load(ctx, runtime.FunctionSpec{Name: "f", Module: runtimetest.GuestModule(t), PoolSize: 1}, nopHost{})
		if err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithCancel(ctx)
		p := []byte("\x00RRCN")
		if err := fn.Deliver(cctx, uint32(len(p)), func(d []byte) error { copy(d, p); return nil }); err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := fn.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if err := e.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
}
