//go:build wasmedge

package node_test

import (
	"context"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/runtime"
	rrwasmedge "github.com/roadrunner-wasm/roadrunner/runtime/wasmedge"
)

// wasmedgeBenchEngines are wazero and WasmEdge, compared side by side.
// WasmEdge runs its interpreter: it parses and validates a module instead
// of compiling it, and has no cache. The benchmarks' names differ from
// bench_wasmtime_test.go's, so that both tags can be built together.
var wasmedgeBenchEngines = []benchEngine{
	wazeroBench,
	{name: "wasmedge", load: "parse", noCache: true, open: func(ctx context.Context, _ string) (runtime.Engine, error) {
		return rrwasmedge.New(ctx, nil)
	}},
}

// BenchmarkWasmedgeMemoryPath is BenchmarkMemoryPath's send on wazero and
// on WasmEdge, side by side in one run (interruptible functions, the
// default).
//
//	make bench-wasmedge WASMEDGE_DIR=...
func BenchmarkWasmedgeMemoryPath(b *testing.B) { benchEnginesPath(b, wasmedgeBenchEngines, false) }

// BenchmarkWasmedgeUnixPath is BenchmarkWasmedgeMemoryPath's send with the
// receiving guest on a second node of the same process, over the unix path.
func BenchmarkWasmedgeUnixPath(b *testing.B) { benchEnginesPath(b, wasmedgeBenchEngines, true) }

// BenchmarkWasmedgeColdStart loads the example producer module on wazero
// and on WasmEdge as a node starting does (benchEnginesColdStart).
func BenchmarkWasmedgeColdStart(b *testing.B) { benchEnginesColdStart(b, wasmedgeBenchEngines) }
