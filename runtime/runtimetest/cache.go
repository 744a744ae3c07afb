package runtimetest

import (
	"context"
	"io/fs"
	"path/filepath"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/runtime"
)

// CacheSurvivesRestart checks an engine's compilation cache on disk: it loads
// the suite's guest in an engine made by open over a new directory, closes
// it, and loads it again in a new engine over the same directory, as a node
// restart does. The first load must write the cache; the second must find
// the compiled code there and write nothing. It returns the directory, for
// checks of the engine's own.
func CacheSurvivesRestart(t *testing.T, open func(dir string) runtime.Engine) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "cache")
	module := GuestModule(t)
	ctx := context.Background()
	load := func() {
		e := open(dir)
		fn, err := e.Load(ctx, runtime.FunctionSpec{Name: "f", Module: module, PoolSize: 1}, &host{})
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
	first := CacheFiles(t, dir)
	if len(first) == 0 {
		t.Fatalf("no compiled module cached in %s", dir)
	}
	load()
	second := CacheFiles(t, dir)
	if len(second) != len(first) {
		t.Fatalf("second load changed the cache: %d files, then %d", len(first), len(second))
	}
	for p, mt := range first {
		if !second[p].Equal(mt) {
			t.Fatalf("second load rewrote %s: it recompiled", p)
		}
	}
	return dir
}

// CacheFiles lists the files below dir, relative to it, with their
// modification times.
func CacheFiles(t *testing.T, dir string) map[string]time.Time {
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
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		files[rel] = info.ModTime()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
