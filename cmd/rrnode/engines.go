package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/roadrunner-wasm/roadrunner/node"
	"github.com/roadrunner-wasm/roadrunner/runtime"
	rrwazero "github.com/roadrunner-wasm/roadrunner/runtime/wazero"
)

// engine is an engine rrnode can run functions on.
type engine struct {
	name    string
	version func() string
	// sharesMemory: its functions can put their memories in a memfd
	// (shared_memory, the shm path); the others take the stream path.
	sharesMemory bool
	// open makes the engine over the compilation cache in cacheDir ("" =
	// none). Nil leaves the engine to node.New (its wazero default).
	open            func(ctx context.Context, cacheDir string) (runtime.Engine, error)
	defaultCacheDir func() (string, error)
}

// engines are those compiled in, the default first. Files with a build tag
// (engines_wasmtime.go) append theirs in init.
var engines = []engine{{name: "wazero", version: rrwazero.Version, sharesMemory: true}}

const defaultEngine = "wazero"

// knownEngines are engines rrnode can be built with: their proper names,
// and how.
var knownEngines = map[string]struct{ title, how string }{
	"wasmtime": {"Wasmtime", "make build WASMTIME=1 or -tags wasmtime"},
	"wasmedge": {"WasmEdge", "make build WASMEDGE=1 WASMEDGE_DIR=<WasmEdge 0.14 install> or -tags wasmedge"},
}

func engineNames() string {
	names := make([]string, len(engines))
	for i, e := range engines {
		names[i] = e.name
	}
	return strings.Join(names, "|")
}

// lookupEngine returns the engine named name, or an error that says how to
// get it.
func lookupEngine(name string) (engine, error) {
	for _, e := range engines {
		if e.name == name {
			return e, nil
		}
	}
	if k, ok := knownEngines[name]; ok {
		return engine{}, fmt.Errorf("--engine %s: this rrnode was built without %s; build with %s", name, k.title, k.how)
	}
	return engine{}, usageError{fmt.Errorf("--engine %q: want %s", name, engineNames())}
}

// openEngine makes e for a node configured with cacheDir (node.CacheOff,
// "" for e's default directory, or a directory). A nil engine with a nil
// error means node.New makes its default one.
func openEngine(ctx context.Context, e engine, cacheDir string) (runtime.Engine, error) {
	if e.open == nil {
		return nil, nil
	}
	cacheDir, err := node.CacheDir(cacheDir, e.defaultCacheDir)
	if err != nil {
		return nil, err
	}
	eng, err := e.open(ctx, cacheDir)
	if err != nil {
		return nil, fmt.Errorf("start engine %s: %w", e.name, err)
	}
	return eng, nil
}
