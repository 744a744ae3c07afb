package main

import (
	"strings"
	"testing"
)

func TestEngineFlag(t *testing.T) {
	if r := rrnode(t, "", "start", "--config", "x.yaml", "--engine", "v8"); r.code != 2 || !strings.Contains(r.err, `--engine "v8": want wazero`) {
		t.Errorf("--engine v8: exit %d, stderr %q, want a usage error listing the engines", r.code, r.err)
	}
	r := rrnode(t, "", "start", "--config", "x.yaml", "--engine", "wasmtime")
	if _, err := lookupEngine("wasmtime"); err == nil {
		return // built with -tags wasmtime: the missing config fails instead
	}
	if want := "rrnode: --engine wasmtime: this rrnode was built without Wasmtime; build with make build WASMTIME=1 or -tags wasmtime"; r.code != 1 || !strings.Contains(r.err, want) {
		t.Errorf("--engine wasmtime: exit %d, stderr %q, want %q", r.code, r.err, want)
	}
}
