//go:build wasmedge

package tests

import (
	"context"
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
	checkPipelineSizes(t, n)
	status, err := n.Stop()
	if err != nil || status != 0 {
		t.Fatalf("rrnode exited with status %d (%v); output:\n%s", status, err, n.Output())
	}
}

// TestEnginesListedWasmedge: rrnode version and rrnode probe name both
// engines with their versions. (The name ends in Wasmedge: make test runs
// this file's tests with -run Wasmedge.)
func TestEnginesListedWasmedge(t *testing.T) {
	checkEnginesListed(t, buildWasmedge(t, build(t)), "wasmedge 0.14.")
}

// TestRemotePipelineWasmedge splits the example pipeline over two rrnode
// processes on the WasmEdge engine, joined by the unix path and then by the
// tcp path on loopback: the payload leaves one WasmEdge guest's memory and
// is read straight into another's, and the consumer's report comes back in
// a REPLY frame.
func TestRemotePipelineWasmedge(t *testing.T) {
	tr := buildAll(t)
	runRemotePipelineOn(t, tr, buildWasmedge(t, tr), "wasmedge")
}
