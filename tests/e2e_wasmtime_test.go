//go:build wasmtime

package tests

import (
	"context"
	"fmt"
	"os/exec"
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
	for _, size := range []int{0, 1, 1 << 10, 1 << 20, 64 << 20} {
		t.Run(fmt.Sprintf("%dB", size), func(t *testing.T) {
			payload := pattern(size)
			checkPipeline(t, post(t, n, "producer", payload), payload)
		})
	}
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
	bin := buildWasmtime(t, build(t))
	for _, args := range [][]string{{"version"}, {"probe"}} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("rrnode %s: %v\n%s", args[0], err, out)
		}
		if !strings.Contains(string(out), "engines: wazero v") || !strings.Contains(string(out), ", wasmtime v35.") {
			t.Errorf("rrnode %s does not list both engines with versions:\n%s", args[0], out)
		}
	}
	rows := probeFeatures(t, bin, nil)
	if !rows["memory"].Available {
		t.Errorf("probe --json of the wasmtime build: memory %+v", rows["memory"])
	}
}

// TestRemotePipelineWasmtime splits the example pipeline over two rrnode
// processes on the Wasmtime engine, joined by the unix path and then by the
// tcp path on loopback: the payload leaves one Wasmtime guest's memory and
// is read straight into another's, and the consumer's report comes back in
// a REPLY frame.
func TestRemotePipelineWasmtime(t *testing.T) {
	tr := buildAll(t)
	bin := buildWasmtime(t, tr)
	o := launchOpts{binary: bin, args: []string{"--engine", "wasmtime"}}
	for _, path := range []string{"unix", "tcp"} {
		t.Run(path, func(t *testing.T) {
			dir := shortDir(t)
			bc := nodeConfig{name: "b", functions: []fn{transformFn, consumerFn}}
			if path == "unix" {
				bc.listenUnix = filepath.Join(dir, "b.sock")
			} else {
				bc.listenTCP = "127.0.0.1:0"
			}
			b := launch(t, tr, "b", bc.write(t, tr, dir), o)
			a := launch(t, tr, "a", nodeConfig{
				name:      "a",
				functions: []fn{producerFn},
				peers:     []peer{{name: "b", address: path + "://" + b.listenAddr(t, path), functions: []string{"transform", "consumer"}}},
			}.write(t, tr, dir), o)
			if !strings.Contains(a.log.since(0), "wasmtime") {
				t.Fatalf("node a does not run on wasmtime:\n%s", a.log.tail(4096))
			}
			runPipeline(t, a, []int{0, 1, 1 << 20, 64 << 20}, path, "memory")
		})
	}
}
