//go:build wasmtime

package node_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/internal/wasmbuild"
	"github.com/roadrunner-wasm/roadrunner/runtime"
	"github.com/roadrunner-wasm/roadrunner/runtime/runtimetest"
	rrwasmtime "github.com/roadrunner-wasm/roadrunner/runtime/wasmtime"
	rrwazero "github.com/roadrunner-wasm/roadrunner/runtime/wazero"
)

// benchEngines are the engines compared side by side, each made over the
// compilation cache in dir ("" = none).
var benchEngines = []struct {
	name string
	open func(ctx context.Context, dir string) (runtime.Engine, error)
}{
	{"wazero", func(ctx context.Context, dir string) (runtime.Engine, error) {
		return rrwazero.New(ctx, &rrwazero.Options{CacheDir: dir})
	}},
	{"wasmtime", func(ctx context.Context, dir string) (runtime.Engine, error) {
		return rrwasmtime.New(ctx, &rrwasmtime.Options{CacheDir: dir})
	}},
}

// BenchmarkEngineMemoryPath is BenchmarkMemoryPath's send on each engine,
// side by side in one run (interruptible functions, the default).
//
//	make bench-engines
func BenchmarkEngineMemoryPath(b *testing.B) {
	module := wasmbuild.ForTest(b, runtimetest.GuestPackage)
	for _, size := range benchSizes {
		for _, e := range benchEngines {
			b.Run(size.name+"/"+e.name, func(b *testing.B) {
				ctx := context.Background()
				eng, err := e.open(ctx, filepath.Join(b.TempDir(), "cache"))
				if err != nil {
					b.Fatal(err)
				}
				defer eng.Close(ctx)
				benchSendOn(b, eng, module, size.n, true, false)
			})
		}
	}
}

// BenchmarkEngineUnixPath is BenchmarkEngineMemoryPath's send with the
// receiving guest on a second node of the same process, over the unix
// path (transport.Peer to transport.Server on a socket file): the engines
// side by side where the payload leaves one guest's memory through a
// socket and lands in the other's.
//
//	make bench-engines
func BenchmarkEngineUnixPath(b *testing.B) {
	module := wasmbuild.ForTest(b, runtimetest.GuestPackage)
	for _, size := range benchSizes {
		for _, e := range benchEngines {
			b.Run(size.name+"/"+e.name, func(b *testing.B) {
				ctx := context.Background()
				eng, err := e.open(ctx, filepath.Join(b.TempDir(), "cache"))
				if err != nil {
					b.Fatal(err)
				}
				defer eng.Close(ctx)
				benchSendOn(b, eng, module, size.n, true, true)
			})
		}
	}
}

// BenchmarkEngineColdStart loads the example producer module on each engine
// as a node starting does: a new engine, compile (or read the compilation
// cache), check, instantiate one instance (WASI, _initialize); then close
// everything. "cached" reads a cache written before the timer starts.
func BenchmarkEngineColdStart(b *testing.B) {
	module := wasmbuild.ModuleForTest(b, "github.com/roadrunner-wasm/roadrunner/examples/producer")
	for _, e := range benchEngines {
		for _, cached := range []bool{false, true} {
			name := e.name + "/compile"
			if cached {
				name = e.name + "/cached"
			}
			b.Run(name, func(b *testing.B) {
				ctx := context.Background()
				dir := ""
				load := func() {
					eng, err := e.open(ctx, dir)
					if err != nil {
						b.Fatal(err)
					}
					fn, err := eng.Load(ctx, runtime.FunctionSpec{Name: "producer", Module: module, PoolSize: 1}, discardHost{})
					if err != nil {
						b.Fatal(err)
					}
					if err := fn.Close(ctx); err != nil {
						b.Fatal(err)
					}
					if err := eng.Close(ctx); err != nil {
						b.Fatal(err)
					}
				}
				if cached {
					dir = filepath.Join(b.TempDir(), "cache")
					load()
				}
				for b.Loop() {
					load()
				}
			})
		}
	}
}

type discardHost struct{}

func (discardHost) Send(context.Context, string, string, []byte) error { return nil }
func (discardHost) Reply(context.Context, string, []byte) error        { return nil }
