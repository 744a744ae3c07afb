//go:build wasmtime

package tests

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/internal/nodeproc"
)

// buildWasmtime builds rrnode with -tags wasmtime, once per test binary.
func buildWasmtime(t *testing.T, tr tree) string { return buildTagged(t, tr, "wasmtime") }

// TestPipelineWasmtime runs the example pipeline on rrnode start --engine
// wasmtime: the same payloads, checked the same way as TestPipeline, and a
// restart that must find the compiled modules in the compilation cache.
func TestPipelineWasmtime(t *testing.T) {
	tr := build(t)
	bin := buildWasmtime(t, tr)
	cache := filepath.Join(t.TempDir(), "cache")
	start := func() *nodeproc.Node {
		n, err := nodeproc.Start(context.Background(), &nodeproc.Options{
			Binary: bin,
			Config: tr.config,
			Args:   []string{"--engine", "wasmtime"},
			Env:    []string{"XDG_CACHE_HOME=" + cache},
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	stop := func(n *nodeproc.Node) {
		t.Helper()
		status, err := n.Stop()
		if err != nil || status != 0 {
			t.Fatalf("rrnode exited with status %d (%v); output:\n%s", status, err, n.Output())
		}
	}

	n := start()
	if !strings.Contains(n.Output(), "wasmtime") {
		t.Errorf("the node's start log does not name the engine:\n%s", n.Output())
	}
	checkPipelineSizes(t, n)
	stop(n)

	cached, _ := filepath.Glob(filepath.Join(cache, "roadrunner", "wasmtime", "*.cwasm"))
	if len(cached) != len(guests) {
		t.Fatalf("compilation cache holds %d modules, want %d: %v", len(cached), len(guests), cached)
	}
	n = start() // from the cache
	payload := pattern(4096)
	checkPipeline(t, post(t, n, "producer", payload), payload)
	stop(n)
}

// TestEnginesListedWasmtime: rrnode version and rrnode probe name both
// engines with their versions. (The name ends in Wasmtime: make test runs
// this file's tests with -run Wasmtime.)
func TestEnginesListedWasmtime(t *testing.T) {
	checkEnginesListed(t, buildWasmtime(t, build(t)), "wasmtime v35.")
}

// TestRemotePipelineWasmtime splits the example pipeline over two rrnode
// processes on the Wasmtime engine, joined by the unix path and then by the
// tcp path on loopback: the payload leaves one Wasmtime guest's memory and
// is read straight into another's, and the consumer's report comes back in
// a REPLY frame.
func TestRemotePipelineWasmtime(t *testing.T) {
	tr := buildAll(t)
	runRemotePipelineOn(t, tr, buildWasmtime(t, tr), "wasmtime")
}
