package wazero_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

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

type nopHost struct{}

func (nopHost) Send(context.Context, string, string, []byte) error {
	return runtime.CodeUnknownFunction
}
func (nopHost) Reply(context.Context, string, []byte) error { return nil }

// cacheFiles lists the files below dir with their modification times.
func cacheFiles(t *testing.T, dir string) map[string]time.Time {
	t.Helper()
	files := map[string]time.Time{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		files[p] = info.ModTime()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestCompilationCacheSurvivesRestart loads a module in one engine, closes
// it, and loads it again in a new engine over the same directory, as a node
// restart does: the second load must find the compiled code on disk and
// write nothing.
func TestCompilationCacheSurvivesRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	module := runtimetest.GuestModule(t)
	ctx := context.Background()
	load := func() {
		e, err := wazero.New(ctx, &wazero.Options{CacheDir: dir})
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
	if len(first) == 0 {
		t.Fatalf("no compiled module cached in %s", dir)
	}
	load()
	second := cacheFiles(t, dir)
	if len(second) != len(first) {
		t.Fatalf("second load changed the cache: %d files, then %d", len(first), len(second))
	}
	for p, mt := range first {
		if !second[p].Equal(mt) {
			t.Fatalf("second load rewrote %s: it recompiled", p)
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

// An uninterruptible function (no context checks compiled in) still works.
func TestUninterruptible(t *testing.T) {
	ctx := context.Background()
	e, err := wazero.New(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	h := &replyHost{}
	fn, err := e.Load(ctx, runtime.FunctionSpec{Name: "f", Module: runtimetest.GuestModule(t), PoolSize: 1, Uninterruptible: true}, h)
	if err != nil {
		t.Fatal(err)
	}
	defer fn.Close(ctx)
	payload := make([]byte, 1<<20)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	if err := fn.Deliver(ctx, uint32(len(payload)), func(d []byte) error { copy(d, payload); return nil }); err != nil {
		t.Fatal(err)
	}
	if string(h.got) != string(payload) {
		t.Fatal("reply differs from the payload")
	}
}
