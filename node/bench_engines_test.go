//go:build wasmtime || wasmedge

package node_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/internal/wasmbuild"
	"github.com/roadrunner-wasm/roadrunner/runtime"
	"github.com/roadrunner-wasm/roadrunner/runtime/runtimetest"
	rrwazero "github.com/roadrunner-wasm/roadrunner/runtime/wazero"
)

// benchEngine is an engine compared side by side with others, made over
// the compilation cache in dir ("" = none).
type benchEngine struct {
	name string
	open func(ctx context.Context, dir string) (runtime.Engine, error)
	// load names what loading a module costs without a cache
	// ("compile"); noCache says the engine has none (an interpreter).
	load    string
	noCache bool
}

var wazeroBench = benchEngine{name: "wazero", load: "compile", open: func(ctx context.Context, dir string) (runtime.Engine, error) {
	return rrwazero.New(ctx, &rrwazero.Options{CacheDir: dir})
}}

// benchEnginesPath is BenchmarkMemoryPath's send on each engine, side by
// side in one run (interruptible functions, the default); with unixPath
// the receiving guest runs on a second node of the same process, reached
// over the unix path.
func benchEnginesPath(b *testing.B, engines []benchEngine, unixPath bool) {
	module := wasmbuild.ForTest(b, runtimetest.GuestPackage)
	for _, size := range benchSizes {
		for _, e := range engines {
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

// benchEnginesColdStart loads the example producer module on each engine as
// a node starting does: a new engine, compile (or read the compilation
// cache; "cached" reads a cache written before the timer starts), check,
// instantiate one instance (WASI, _initialize); then close everything.
func benchEnginesColdStart(b *testing.B, engines []benchEngine) {
	module := wasmbuild.ModuleForTest(b, "github.com/roadrunner-wasm/roadrunner/examples/producer")
	for _, e := range engines {
		for _, cached := range []bool{false, true} {
			if cached && e.noCache {
				continue
			}
			name := e.name + "/" + e.load
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
