package main

import (
	"strings"
	"testing"
)

func TestEngineFlag(t *testing.T) {
	if r := rrnode(t, "", "start", "--config", "x.yaml", "--engine", "v8"); r.code != 2 || !strings.Contains(r.err, `--engine "v8": want wazero`) {
		t.Errorf("--engine v8: exit %d, stderr %q, want a usage error listing the engines", r.code, r.err)
	}
	for name, want := range map[string]string{
		"wasmtime": "rrnode: --engine wasmtime: this rrnode was built without Wasmtime; build with make build WASMTIME=1 or -tags wasmtime",
		"wasmedge": "rrnode: --engine wasmedge: this rrnode was built without WasmEdge; build with make build WASMEDGE=1 WASMEDGE_DIR=<WasmEdge 0.14 install> or -tags wasmedge",
	} {
		if _, err := lookupEngine(name); err == nil {
			continue // built with its tag: the missing config fails instead
		}
		r := rrnode(t, "", "start", "--config", "x.yaml", "--engine", name)
		if r.code != 1 || !strings.Contains(r.err, want) {
			t.Errorf("--engine %s: exit %d, stderr %q, want %q", name, r.code, r.err, want)
		}
	}
}
