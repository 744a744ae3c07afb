package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// graph builds an import graph from "importer: imported ..." lines; paths
// starting with "./" are the module's, the rest are taken as given and are
// standard if they have no dot.
func graph(lines ...string) map[string]*pkg {
	full := func(p string) string {
		if rest, ok := strings.CutPrefix(p, "./"); ok {
			return module + "/" + rest
		}
		return p
	}
	g := map[string]*pkg{}
	add := func(p string) *pkg {
		if g[p] == nil {
			g[p] = &pkg{ImportPath: p, Standard: !strings.Contains(p, ".")}
		}
		return g[p]
	}
	for _, l := range lines {
		from, to, _ := strings.Cut(l, ":")
		p := add(full(strings.TrimSpace(from)))
		for _, imp := range strings.Fields(to) {
			if imp == "C" { // cgo's pseudo-package: go list does not list it
				p.Imports = append(p.Imports, imp)
				continue
			}
			p.Imports = append(p.Imports, add(full(imp)).ImportPath)
		}
	}
	return g
}

func chains(vs []violation) []string {
	var out []string
	for _, v := range vs {
		short := make([]string, len(v.chain))
		for i, p := range v.chain {
			short[i] = rel(p)
		}
		out = append(out, strings.Join(short, " → "))
	}
	return out
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name  string
		graph map[string]*pkg
		want  []string
	}{
		{"transport to runtime", graph("./transport: ./abi ./runtime", "./runtime: ./abi"),
			[]string{"transport → runtime"}},
		{"transport to node through another package", graph("./transport: ./internal/x", "./internal/x: fmt ./node/sub"),
			[]string{"transport → internal/x → node/sub"}},
		{"a subpackage of transport", graph("./transport/frame: ./runtime/wazero"),
			[]string{"transport/frame → runtime/wazero"}},
		{"the walk stops at the first forbidden package", graph("./transport: ./node", "./node: ./runtime"),
			[]string{"transport → node"}},
		{"transport to abi and internal/ring", graph("./transport: ./abi ./internal/ring net", "./internal/ring: golang.org/x/sys/unix"),
			nil},
		{"engines", graph(
			"./runtime/wazero: ./runtime github.com/tetratelabs/wazero",
			"./runtime/wasmtime: ./transport",
			"./runtime/wasmedge: ./node",
			"./runtime/runtimetest: ./transport"),
			[]string{"runtime/wasmedge → node", "runtime/wasmtime → transport"}},
		{"internal/ring", graph("./internal/ring: ./internal/privileged golang.org/x/sys/unix", "./internal/ring/ringtest: ./internal/ring ./internal/privileged testing"),
			[]string{"internal/ring → internal/privileged"}},
		{"ringtest", graph("./internal/ring/ringtest: ./internal/ring ./node"),
			[]string{"internal/ring/ringtest → node"}},
		{"bpf", graph("./bpf: github.com/cilium/ebpf ./internal/ring", "./internal/ring: unsafe"),
			[]string{"bpf → internal/ring"}},
		{"guest to abi and the standard library", graph("./guest: ./abi os unsafe", "./abi: strconv"),
			nil},
		{"guest to a host package", graph("./guest: ./abi ./runtime"),
			[]string{"guest → runtime"}},
		{"guest to another module", graph("./guest: ./guest/internal/x", "./guest/internal/x: golang.org/x/sys/unix"),
			[]string{"guest → guest/internal/x → golang.org/x/sys/unix", "guest/internal/x → golang.org/x/sys/unix"}},
		{"guest to cgo", graph("./guest: C"),
			[]string{"guest → C"}},
		{"guest to a host package through abi", graph("./guest: ./abi", "./abi: ./runtime"),
			[]string{"guest → abi → runtime"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := chains(check(tc.graph, rules))
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("violations:\n  %q\nwant:\n  %q", got, tc.want)
			}
		})
	}
}

// A throwaway module with the project's path and real go list: a forbidden
// import behind a build tag, one only in the wasip1 build, and one through
// an intermediate package are each found, in the build they are in, and the
// allowed ones are not.
func TestRunModule(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":                  "module " + module + "\n\ngo 1.26\n",
		"abi/abi.go":              "package abi\n\nimport _ \"strconv\"\n",
		"runtime/runtime.go":      "package runtime\n\nimport _ \"" + module + "/abi\"\n",
		"node/node.go":            "package node\n\nimport _ \"" + module + "/runtime\"\n",
		"internal/x/x.go":         "package x\n\nimport _ \"" + module + "/node\"\n",
		"transport/t.go":          "package transport\n\nimport _ \"" + module + "/abi\"\n",
		"transport/x.go":          "package transport\n\nimport _ \"" + module + "/internal/x\"\n",
		"runtime/wasmtime/w.go":   "//go:build wasmtime\n\npackage wasmtime\n\nimport _ \"" + module + "/transport\"\n",
		"runtime/wasmtime/doc.go": "package wasmtime\n\nimport _ \"" + module + "/runtime\"\n",
		"guest/codes.go":          "package guest\n\nimport _ \"" + module + "/abi\"\n",
		"guest/guest.go":          "//go:build wasip1\n\npackage guest\n\nimport _ \"" + module + "/runtime\"\n",
	}
	for name, text := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("GOFLAGS", "-mod=mod")
	t.Setenv("GOWORK", "off")
	var out strings.Builder
	n, err := run(dir, builds, rules, &out)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"-tags wasmtime,wasmedge,giouring: runtime/wasmtime → transport (an engine adapter imports runtime only)",
		"-tags wasmtime,wasmedge,giouring: transport → internal/x → node (transport knows nothing of Wasm engines or the node)",
		"GOOS=darwin: transport → internal/x → node (transport knows nothing of Wasm engines or the node)",
		"GOOS=wasip1 GOARCH=wasm: guest → runtime (the guest SDK builds for wasip1 and stays small: the standard library and abi only)",
		"default build: transport → internal/x → node (transport knows nothing of Wasm engines or the node)",
	}
	got := strings.Split(strings.TrimSpace(out.String()), "\n")
	slices.Sort(got)
	if !slices.Equal(got, want) || n != len(want) {
		t.Errorf("run found %d:\n%s\nwant:\n%s", n, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
