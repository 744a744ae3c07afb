//go:build wasmedge

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

// buildWasmedge builds rrnode with -tags wasmedge, once per test binary.
func buildWasmedge(t *testing.T, tr tree) string { return buildTagged(t, tr, "wasmedge") }

// TestPipelineWasmedge runs the example pipeline on rrnode start --engine
// wasmedge: the same payloads, checked the same way as TestPipeline.
// (WasmEdge runs in its interpreter here: there is no compilation cache to
// check.)
func TestPipelineWasmedge(t *testing.T) {
	tr := build(t)
	bin := buildWasmedge(t, tr)
	n, err := nodeproc.Start(context.Background(), &nodeproc.Options{
		Binary: bin,
		Config: tr.config,
		Args:   []string{"--engine", "wasmedge"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(n.Output(), "wasmedge") {
		t.Errorf("the node's start log does not name the engine:\n%s", n.Output())
	}
	for _, size := range []int{0, 1, 1 << 10, 1 << 20, 64 << 20} {
		t.Run(fmt.Sprintf("%dB", size), func(t *testing.T) {
			payload := pattern(size)
			checkPipeline(t, post(t, n, "producer", payload), payload)
		})
	}
	status, err := n.Stop()
	if err != nil || status != 0 {
		t.Fatalf("rrnode exited with status %d (%v); output:\n%s", status, err, n.Output())
	}
}

// TestEnginesListedWasmedge: rrnode version and rrnode probe name both
// engines with their versions. (The name ends in Wasmedge: make test runs
// this file's tests with -run Wasmedge.)
func TestEnginesListedWasmedge(t *testing.T) {
	bin := buildWasmedge(t, build(t))
	for _, args := range [][]string{{"version"}, {"probe"}} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("rrnode %s: %v\n%s", args[0], err, out)
		}
		if !strings.Contains(string(out), "engines: wazero v") || !strings.Contains(string(out), ", wasmedge 0.14.") {
			t.Errorf("rrnode %s does not list both engines with versions:\n%s", args[0], out)
		}
	}
}

// TestRemotePipelineWasmedge splits the example pipeline over two rrnode
// processes on the WasmEdge engine, joined by the unix path and then by the
// tcp path on loopback: the payload leaves one WasmEdge guest's memory and
// is read straight into another's, and the consumer's report comes back in
// a REPLY frame.
func TestRemotePipelineWasmedge(t *testing.T) {
	tr := buildAll(t)
	bin := buildWasmedge(t, tr)
	o := launchOpts{binary: bin, args: []string{"--engine", "wasmedge"}}
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
			if !strings.Contains(a.log.since(0), "wasmedge") {
				t.Fatalf("node a does not run on wasmedge:\n%s", a.log.tail(4096))
			}
			runPipeline(t, a, []int{0, 1, 1 << 20, 64 << 20}, path, "memory")
		})
	}
}
