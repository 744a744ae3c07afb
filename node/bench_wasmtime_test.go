//go:build wasmtime

package node_test

import (
	"context"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/runtime"
	rrwasmtime "github.com/roadrunner-wasm/roadrunner/runtime/wasmtime"
)

// benchEngines are wazero and Wasmtime, compared side by side.
var benchEngines = []benchEngine{
	wazeroBench,
	{name: "wasmtime", load: "compile", open: func(ctx context.Context, dir string) (runtime.Engine, error) {
		return rrwasmtime.New(ctx, &rrwasmtime.Options{CacheDir: dir})
	}},
}

// BenchmarkEngineMemoryPath is BenchmarkMemoryPath's send on each engine,
// side by side in one run (interruptible functions, the default).
//
//	make bench-engines
func BenchmarkEngineMemoryPath(b *testing.B) { benchEnginesPath(b, benchEngines, false) }

// BenchmarkEngineUnixPath is BenchmarkEngineMemoryPath's send with the
// receiving guest on a second node of the same process, over the unix
// path (transport.Peer to transport.Server on a socket file): the engines
// side by side where the payload leaves one guest's memory through a
// socket and lands in the other's.
//
//	make bench-engines
func BenchmarkEngineUnixPath(b *testing.B) { benchEnginesPath(b, benchEngines, true) }

// BenchmarkEngineColdStart loads the example producer module on each engine
// as a node starting does (benchEnginesColdStart).
func BenchmarkEngineColdStart(b *testing.B) { benchEnginesColdStart(b, benchEngines) }
