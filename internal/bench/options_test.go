package bench

import (
	"slices"
	"strings"
	"testing"
)

func TestParseSizes(t *testing.T) {
	got, err := ParseSizes("4KiB, 1MiB,500MB,64,2GB")
	if err == nil {
		t.Fatalf("ParseSizes accepted 2GB (over 1 GiB): %v", got)
	}
	got, err = ParseSizes("4KiB, 1MiB,500MB,64,1GiB, 1.5kB,0.5 MiB,1KB")
	if err != nil {
		t.Fatal(err)
	}
	want := []int64{4 << 10, 1 << 20, 500e6, 64, 1 << 30, 1500, 512 << 10, 1000}
	if !slices.Equal(got, want) {
		t.Errorf("ParseSizes = %v, want %v", got, want)
	}
	for bad, msg := range map[string]string{
		"":           "no sizes",
		"0":          "want 64 B to 1GiB",
		"63":         "want 64 B to 1GiB",
		"-1MiB":      "no sign",
		"1.3KiB":     "not a whole number of bytes",
		"MiB":        "no number",
		"1TB":        "want 64 B to 1GiB",
		"1mb":        "write MB",
		"12 parsecs": `"12 parsecs": unknown unit "parsecs"; want a size: an integer number of bytes, or a number and a unit: B, KiB, MiB, GiB, TiB (powers of 1024) or kB, MB, GB, TB (powers of 1000), as in 1048576, 64MiB, 1.5GiB, 500MB (docs/CONFIG.md#sizes)`,
	} {
		if _, err := ParseSizes(bad); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseSizes(%q): %v, want an error that says %q", bad, err, msg)
		}
	}
	for n, name := range map[int64]string{4 << 10: "4KiB", 64 << 20: "64MiB", 500e6: "500MB", 1000: "1000B", 1 << 30: "1GiB"} {
		if got := SizeName(n); got != name {
			t.Errorf("SizeName(%d) = %q, want %q", n, got, name)
		}
	}
}

func TestParsePaths(t *testing.T) {
	all, err := ParsePaths("all")
	if err != nil || !slices.Equal(all, AllPaths) {
		t.Fatalf("ParsePaths(all) = %v, %v", all, err)
	}
	got, err := ParsePaths("memcpy, tcp+sockmap,memcpy")
	if err != nil || !slices.Equal(got, []string{PathMemcpy, PathTCPSockmap}) {
		t.Errorf("ParsePaths = %v, %v", got, err)
	}
	got, err = ParsePaths("http-raw,native-http-json,native-http")
	if err != nil || !slices.Equal(got, []string{PathHTTPRaw, PathNativeHTTPJSON, PathNativeHTTP}) {
		t.Errorf("ParsePaths = %v, %v", got, err)
	}
	if _, err := ParsePaths("memory,carrier-pigeon"); err == nil {
		t.Error("ParsePaths accepted an unknown path")
	}
}

func TestOptionsDefaults(t *testing.T) {
	o := Options{Rrnode: "rrnode", WasmDir: "w"}
	if err := o.setDefaults(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.Sizes, DefaultSizes) || o.Repeat != 10 || o.Concurrency != 1 || !slices.Equal(o.Paths, AllPaths) {
		t.Errorf("defaults: %+v", o)
	}
	if b := o.batchFor(1 << 20); b != 32 {
		t.Errorf("batch at 1 MiB = %d, want 32", b)
	}
	if b := o.batchFor(256 << 20); b != 1 {
		t.Errorf("batch at 256 MiB = %d, want 1", b)
	}
	for _, bad := range []Options{
		{Rrnode: "r", WasmDir: "w", Sizes: []int64{10}},
		{Rrnode: "r", WasmDir: "w", Concurrency: 100},
		{Rrnode: "r", WasmDir: "w", Paths: []string{"nope"}},
		{WasmDir: "w"},
	} {
		if err := bad.setDefaults(); err == nil {
			t.Errorf("setDefaults accepted %+v", bad)
		}
	}
}

func TestGroups(t *testing.T) {
	paths := []string{PathMemory, PathHTTPJSON, PathMemcpy}
	if g := groups(paths, 1<<20, 1<<40); len(g) != 1 {
		t.Errorf("at 1 MiB with room for all: %v", g)
	}
	// Each path alone over budget: each in a group of its own, none lost.
	g := groups(paths, 500e6, 1<<20)
	if len(g) != 3 || g[0][0] != PathMemory || g[1][0] != PathHTTPJSON || g[2][0] != PathMemcpy {
		t.Errorf("groups over budget = %v", g)
	}
}
