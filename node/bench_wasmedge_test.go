//go:build wasmedge

package node_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/internal/wasmbuild"
	"github.com/roadrunner-wasm/roadrunner/runtime"
	"github.com/roadrunner-wasm/roadrunner/runtime/runtimetest"
	rrwasmedge "github.com/roadrunner-wasm/roadrunner/runtime/wasmedge"
	rrwazero "github.com/roadrunner-wasm/roadrunner/runtime/wazero"
)

// wasmedgeBenchEngines are wazero and WasmEdge, compared side by side, each
// made over the compilation cache in dir ("" = none; WasmEdge, in its
// interpreter, has none and ignores it). The benchmarks' names differ from
// bench_wasmtime_test.go's, so that both tags can be built together.
var wasmedgeBenchEngines = []struct {
	name string
	open func(ctx context.Context, dir string) (runtime.Engine, error)
}{
	{"wazero", func(ctx context.Context, dir string) (runtime.Engine, error) {
		return rrwazero.New(ctx, &rrwazero.Options{CacheDir: dir})
	}},
	{"wasmedge", func(ctx context.Context, dir string) (runtime.Engine, error) {
		return rrwasmedge.New(ctx, nil)
	}},
}

// BenchmarkWasmedgeMemoryPath is BenchmarkMemoryPath's send on wazero and
// on WasmEdge, side by side in one run (interruptible functions, the
// default).
func BenchmarkWasmedgeMemoryPath(b *testing.B) {
	benchWasmedgePath(b, false)
}

// BenchmarkWasmedgeUnixPath is BenchmarkWasmedgeMemoryPath's send with the
// receiving guest on a second node of the same process, over the unix path.
func BenchmarkWasmedgeUnixPath(b *testing.B) {
	benchWasmedgePath(b, true)
}

func benchWasmedgePath(b *testing.B, unixPath bool) {
	module := wasmbuild.ForTest(b, runtimetest.GuestPackage)
	for _, size := range benchSizes {
		for _, e := range wasmedgeBenchEngines {
			b.Run(size.name+"/"+e.name, func(b *testing.B) {
				ctx := context.Background()
				eng, err := e.open(ctx, filepath.Join(b.TempDir(), "cache"))
				if err != nil {
					b.Fatal(err)
				}
				defer eng.Close(ctx)
				benchSendOn(b, eng, module, size.n, true, unixPath)
			})
		}
	}
}

// BenchmarkWasmedgeColdStart loads the example producer module as a node
// starting does: a new engine, compile (wazero; "cached" reads a cache
// written before the timer starts) or parse and validate (WasmEdge, which
// interprets and has no cache), check, instantiate one instance (WASI,
// _initialize); then close everything.
func BenchmarkWasmedgeColdStart(b *testing.B) {
	module := wasmbuild.ModuleForTest(b, "github.com/roadrunner-wasm/roadrunner/examples/producer")
	for _, e := range wasmedgeBenchEngines {
		for _, cached := range []bool{false, true} {
			if cached && e.name == "wasmedge" {
				continue
			}
			name := e.name + "/compile"
			if e.name == "wasmedge" {
				name = e.name + "/parse"
			}
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
					fn, err := eng.Load(ctx, runtime.FunctionSpec{Name: "producer", Module: module, PoolSize: 1}, wasmedgeDiscardHost{})
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

type wasmedgeDiscardHost struct{}

func (wasmedgeDiscardHost) Send(context.Context, string, string, []byte) error { return nil }
func (wasmedgeDiscardHost) Reply(context.Context, string, []byte) error        { return nil }
