package tests

import (
	"os/exec"
	"strings"
	"testing"
)

// TestEngineNotBuilt: the default rrnode (pure Go) refuses --engine wasmtime
// and says how to build one that has it.
func TestEngineNotBuilt(t *testing.T) {
	tr := build(t)
	out, err := exec.Command(tr.rrnode, "start", "--config", tr.config, "--engine", "wasmtime").CombinedOutput()
	if err == nil {
		t.Fatalf("rrnode without Wasmtime started with --engine wasmtime:\n%s", out)
	}
	if !strings.Contains(string(out), "built without Wasmtime; build with make build WASMTIME=1 or -tags wasmtime") {
		t.Fatalf("rrnode start --engine wasmtime: %v; output does not say how to build it:\n%s", err, out)
	}
}
