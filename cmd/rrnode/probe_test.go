package main

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/transport/features"
)

var wantProbeRows = []string{"memory", "unix", "tcp", "splice", "vmsplice", "pipe_max_size", "io_uring", "io_uring.send_zc", "sockmap", "tls", "shm"}

func TestProbeJSON(t *testing.T) {
	r := rrnode(t, "", "probe", "--json")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %s", r.code, r.err)
	}
	var rep struct {
		Kernel   string
		Features []features.Feature
		Engines  []struct {
			Name, Version string
			SharedMemory  bool `json:"shared_memory"`
		}
	}
	dec := json.NewDecoder(strings.NewReader(r.out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("%v in:\n%s", err, r.out)
	}
	if dec.More() {
		t.Errorf("more than one JSON value:\n%s", r.out)
	}
	if rep.Kernel == "" || rep.Kernel != features.KernelVersion() {
		t.Errorf("kernel %q, want %q", rep.Kernel, features.KernelVersion())
	}
	var names []string
	for _, f := range rep.Features {
		names = append(names, f.Name)
		if f.Available != (f.Reason == "") {
			t.Errorf("%+v: a reason must be given exactly when unavailable", f)
		}
	}
	if !slices.Equal(names, wantProbeRows) {
		t.Fatalf("rows %v, want %v", names, wantProbeRows)
	}
	if !rep.Features[0].Available {
		t.Errorf("memory unavailable: %+v", rep.Features[0])
	}
	if len(rep.Engines) == 0 || rep.Engines[0].Name != "wazero" || !strings.HasPrefix(rep.Engines[0].Version, "v1.") || !rep.Engines[0].SharedMemory {
		t.Errorf("engines %+v, want wazero v1.x first, sharing memory", rep.Engines)
	}
	for _, e := range rep.Engines[1:] {
		if e.SharedMemory {
			t.Errorf("engine %s says it shares memory: only wazero has the allocator", e.Name)
		}
	}
	if !strings.Contains(r.out, `"detail": "Linux >= 2.6.17"`) {
		t.Errorf("kernel versions escaped or missing:\n%s", r.out)
	}
	for _, f := range rep.Features[1:] {
		// Kernel TLS is reported, not required: this kernel has none.
		if !f.Available && f.Name != "tls" && os.Getenv("RR_REQUIRE_PRIVILEGED") == "1" {
			t.Errorf("%s unavailable with RR_REQUIRE_PRIVILEGED=1: %s", f.Name, f.Reason)
		}
	}
}

func TestProbeText(t *testing.T) {
	r := rrnode(t, "", "probe")
	if r.code != 0 || r.err != "" {
		t.Fatalf("exit %d, stderr %s", r.code, r.err)
	}
	lines := strings.Split(strings.TrimSuffix(r.out, "\n"), "\n")
	if want := "kernel: " + features.KernelVersion(); lines[0] != want {
		t.Errorf("first line %q, want %q", lines[0], want)
	}
	if !strings.HasPrefix(lines[1], "engines: wazero v1.") {
		t.Errorf("second line %q, want the engines", lines[1])
	}
	table := lines[3:]
	if len(table) != 1+len(wantProbeRows) || !strings.HasPrefix(table[0], "FEATURE") {
		t.Fatalf("want a header and %d rows:\n%s", len(wantProbeRows), r.out)
	}
	features := features.Probe()
	col := strings.Index(table[0], "AVAILABLE")
	for i, f := range features {
		line := table[1+i]
		fields := strings.Fields(line)
		want := map[bool]string{true: "yes", false: "no"}[f.Available]
		if fields[0] != wantProbeRows[i] || line[col:col+len(want)] != want {
			t.Errorf("row %d %q, want %s with %q under AVAILABLE", i, line, wantProbeRows[i], want)
		}
		if !strings.Contains(line, f.Detail) || !strings.Contains(line, f.Reason) {
			t.Errorf("row %q lacks %+v", line, f)
		}
		if strings.HasSuffix(line, " ") {
			t.Errorf("row %q ends with blanks", line)
		}
	}
}

func TestProbeUsage(t *testing.T) {
	if r := rrnode(t, "", "probe", "extra"); r.code != 2 {
		t.Errorf("probe extra: exit %d, stderr %q, want a usage error", r.code, r.err)
	}
	if r := rrnode(t, "", "probe", "--yaml"); r.code != 2 {
		t.Errorf("probe --yaml: exit %d, stderr %q, want a usage error", r.code, r.err)
	}
}
