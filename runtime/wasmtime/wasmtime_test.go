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

type nopHost struct{}

func (nopHost) Send(context.Context, string, string, []byte) error {
	return runtime.CodeUnknownFunction
}
func (nopHost) Reply(context.Context, string, []byte) error { return nil }

func cacheFiles(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]int64{}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = info.ModTime().UnixNano()
	}
	return files
}

// TestCompilationCacheSurvivesRestart loads a module in one engine, closes
// it, and loads it again in a new engine over the same directory, as a node
// restart does: the second load must find the compiled code on disk and
// write nothing. A corrupt entry is recompiled.
func TestCompilationCacheSurvivesRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	module := runtimetest.GuestModule(t)
	ctx := context.Background()
	load := func() {
		e, err := wasmtime.New(ctx, &wasmtime.Options{CacheDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		fn, err := e.Load(ctx, runtime.FunctionSpec{Name: "f", Module: module, PoolSize: 1}, nopHost{})
		if err != nil {
			t.Fatal(err)
		}
		if err := fn.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if err := e.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	load()
	first := cacheFiles(t, dir)
	if len(first) != 1 {
		t.Fatalf("%d files cached in %s, want 1", len(first), dir)
	}
	load()
	second := cacheFiles(t, dir)
	if len(second) != 1 {
		t.Fatalf("second load changed the cache: %v, then %v", first, second)
	}
	for p, mt := range first {
		if second[p] != mt {
			t.Fatalf("second load rewrote %s: it recompiled", p)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte("torn"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	load() // recompiles and replaces the corrupt entry
	for p := range cacheFiles(t, dir) {
		if b, _ := os.ReadFile(filepath.Join(dir, p)); string(b) == "torn" {
			t.Fatal("a corrupt cache entry was not replaced")
		}
	}
}

type replyHost struct{ got []byte }

func (h *replyHost) Send(context.Context, string, string, []byte) error {
	return runtime.CodeUnknownFunction
}
func (h *replyHost) Reply(_ context.Context, _ string, p []byte) error {
	h.got = append(h.got[:0], p...)
	return nil
}

// An uninterruptible function (an engine without epoch checks) still works,
// beside an interruptible one of the same Engine.
func TestUninterruptible(t *testing.T) {
	ctx := context.Background()
	e, err := wasmtime.New(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	payload := make([]byte, 1<<20)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	for _, un := range []bool{true, false} {
		h := &replyHost{}
		fn, err := e.Load(ctx, runtime.FunctionSpec{Name: "f", Module: runtimetest.GuestModule(t), PoolSize: 1, Uninterruptible: un}, h)
		if err != nil {
			t.Fatal(err)
		}
		defer fn.Close(ctx)
		if err := fn.Deliver(ctx, uint32(len(payload)), func(d []byte) error { copy(d, payload); return nil }); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(h.got, payload) {
			t.Fatalf("uninterruptible %t: reply differs from the payload", un)
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
