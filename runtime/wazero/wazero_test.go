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
