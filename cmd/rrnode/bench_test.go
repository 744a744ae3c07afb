package main

import (
	"bytes"
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/internal/bench"
	"github.com/roadrunner-wasm/roadrunner/internal/privileged"
	"github.com/roadrunner-wasm/roadrunner/internal/wasmbuild"
)

// benchReexec makes this test binary act as rrnode when rrnode bench runs
// it as its nodes and agents (--rrnode is the test binary): the nodes of
// the smoke test are real processes, built from this package's code.
const benchReexec = "RRNODE_TEST_AS_RRNODE"

func init() {
	if os.Getenv(benchReexec) == "1" {
		os.Exit(run(context.Background(), os.Args[1:], stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr}))
	}
}

// TestBenchSmoke runs rrnode bench at one tiny size, one repetition, over
// every path, as CI's make bench-smoke does, and checks the CSV: a row for
// every path, each unavailable with a reason or with every delivery
// verified. No timing is asserted.
func TestBenchSmoke(t *testing.T) {
	if raceBuild() {
		// make test runs this package under -race, then make bench-smoke,
		// which is this test on the real binary: under the race detector
		// the twenty node and agent processes compile the guests 4x
		// slower (100 s with an empty cache), to race code node's tests
		// race already.
		t.Skip("the race detector's build: make bench-smoke runs the same without it")
	}
	wasmDir := t.TempDir()
	for _, m := range bench.Modules {
		if err := wasmbuild.Build("github.com/roadrunner-wasm/roadrunner/examples/"+m, filepath.Join(wasmDir, m+".wasm")); err != nil {
			t.Fatal(err)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(benchReexec, "1") // for the children only: init has run
	out := t.TempDir()
	// No cold start: it compiles the guests in this process, which the
	// race detector makes slow, and make bench-smoke measures it.
	r := rrnode(t, "", "bench", "--sizes", "4KiB", "--repeat", "1", "--warmup", "1", "-o", "csv", "--cold-start=false",
		"--out", out, "--wasm-dir", wasmDir, "--rrnode", exe, "--cache-dir", cacheDir)
	if r.code != 0 {
		t.Fatalf("rrnode bench: status %d\nstdout:\n%s\nstderr:\n%s", r.code, r.out, r.err)
	}
	if err := bench.CheckCSV(strings.NewReader(r.out), bench.AllPaths, []int64{4 << 10}, privileged.Required()); err != nil {
		t.Errorf("%v\nstderr:\n%s", err, r.err)
	}
	for _, f := range bench.Files {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if !strings.Contains(r.err, "bench: 4KiB    socket-tcp    rep 1/1") {
		t.Errorf("no progress line for socket-tcp on stderr:\n%s", r.err)
	}
	check := rrnode(t, "", "bench-check", "--sizes", "4KiB", filepath.Join(out, "results.csv"))
	if check.code != 0 {
		t.Errorf("bench-check: %d %s", check.code, check.err)
	}
	// bench-check fails where a size has no rows.
	if c := rrnode(t, "", "bench-check", "--sizes", "4KiB,8KiB", filepath.Join(out, "results.csv")); c.code != 1 || !strings.Contains(c.err, "no row for memory at 8192 bytes") {
		t.Errorf("bench-check with a missing size: %d %s", c.code, c.err)
	}
}

// TestBenchCheckRequireAvailable: bench-check accepts a row marked
// unavailable with its reason, unless --require-available (what make
// bench-smoke passes under RR_REQUIRE_PRIVILEGED=1) says every path must
// have run.
func TestBenchCheckRequireAvailable(t *testing.T) {
	res := &bench.Result{Sizes: []int64{4 << 10}, Paths: []string{bench.PathMemory, bench.PathTCPSockmap}, Repeat: 1, Concurrency: 1, Rows: []bench.Row{
		{SizeBytes: 4 << 10, Path: bench.PathMemory, Accel: "none", Available: true, Repeat: 1, Samples: 1, Verified: 2, Concurrency: 1,
			LatencyMedian: 1e-5, LatencyP95: 1e-5, LatencyMean: 1e-5, Throughput: 400, TransfersPerS: 1e5, SenderCPU: 1e-5, ReceiverCPU: math.NaN(), TotalCPU: 1e-5},
		{SizeBytes: 4 << 10, Path: bench.PathTCPSockmap, Accel: "sockmap", Repeat: 1, Concurrency: 1, Reason: "sockmap: operation not permitted"},
	}}
	file := filepath.Join(t.TempDir(), "results.csv")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := res.WriteCSV(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	paths := "--paths=memory,tcp+sockmap"
	if r := rrnode(t, "", "bench-check", paths, file); r.code != 0 {
		t.Errorf("bench-check: status %d, stderr %q; want 0 (an unavailable row with its reason)", r.code, r.err)
	}
	r := rrnode(t, "", "bench-check", paths, "--require-available", file)
	if r.code != 1 || !strings.Contains(r.err, "tcp+sockmap: unavailable: sockmap: operation not permitted") {
		t.Errorf("bench-check --require-available: status %d, stderr %q; want 1, naming the unavailable row", r.code, r.err)
	}
}

func raceBuild() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}

func TestBenchUsage(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "--format", "xml"},
		{"bench", "-o", "xml"},
		{"bench", "--sizes", "1mib"},
		{"bench", "--paths", "memory,pigeon"},
		{"bench", "--sizes", "lots"},
		{"bench", "--concurrency", "0"},
		{"bench", "extra"},
	} {
		r := rrnode(t, "", args...)
		if r.code != 2 {
			t.Errorf("%v: status %d, want 2 (stderr %q)", args, r.code, r.err)
		}
	}
	// No guests where it looks: a clear error, status 1.
	r := rrnode(t, "", "bench", "--sizes", "4KiB", "--wasm-dir", t.TempDir(), "--out", t.TempDir())
	if r.code != 1 || !strings.Contains(r.err, "make wasm") {
		t.Errorf("no guests: status %d, stderr %q", r.code, r.err)
	}
}

// TestBenchEmbeddedGuests: an rrnode built as go install builds it runs
// rrnode bench from a directory with no checkout and without --wasm-dir,
// on the guests built into it, and removes the directory it wrote them to.
// Every node and agent it starts (through a wrapper that records their
// command lines) is given the bench's --engine.
func TestBenchEmbeddedGuests(t *testing.T) {
	work := t.TempDir()
	bin := filepath.Join(work, "rrnode")
	// Not this test binary: a race build of every node would compile the
	// guests 4x slower, and the point is the binary a user installs.
	build := exec.Command("go", "build", "-o", bin, "github.com/roadrunner-wasm/roadrunner/cmd/rrnode")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build rrnode: %v\n%s", err, out)
	}
	log := filepath.Join(work, "children.log")
	wrapper := filepath.Join(work, "rrnode-wrapper")
	script := "#!/bin/sh\necho \"$*\" >> '" + log + "'\nexec '" + bin + "' \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cwd, tmp := t.TempDir(), t.TempDir()
	cmd := exec.Command(bin, "bench", "--sizes", "1KiB", "--repeat", "1", "--warmup", "1", "--cold-start=false",
		"--format", "csv", "--out", "results", "--rrnode", wrapper, "--cache-dir", cacheDir)
	cmd.Dir = cwd                                 // no build/wasm, no checkout
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp) // where the guests go, to see them removed
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("rrnode bench without --wasm-dir: %v\nstderr:\n%s", err, stderr.String())
	}
	if err := bench.CheckCSV(&stdout, bench.AllPaths, []int64{1 << 10}, privileged.Required()); err != nil {
		t.Errorf("%v\nstderr:\n%s", err, stderr.String())
	}
	// --format, -o's former name, still works and says it is deprecated.
	if !strings.Contains(stderr.String(), "rrnode bench: --format is deprecated: use -o (--output)") {
		t.Errorf("--format: no deprecation note on stderr:\n%s", stderr.String())
	}
	if _, err := os.Stat(filepath.Join(cwd, "results", "results.csv")); err != nil {
		t.Error(err)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "rrnode-bench-guests-*")); len(left) > 0 {
		t.Errorf("the embedded guests' directory is left behind: %v", left)
	}

	children, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	roles := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(children)), "\n") {
		args := strings.Fields(line)
		roles[args[0]]++
		if !strings.Contains(line, " --engine wazero ") {
			t.Errorf("started without --engine wazero: rrnode %s", line)
		}
	}
	if roles["start"] == 0 || roles["bench-agent"] == 0 || len(roles) != 2 {
		t.Errorf("children by command: %v; want nodes (start) and agents (bench-agent)", roles)
	}
}

// TestBenchEngine: --engine names an engine this rrnode was built with;
// another known engine is an error that says how to build it in (status
// 1), an unknown one a usage error (status 2). Both before anything starts.
func TestBenchEngine(t *testing.T) {
	out := t.TempDir()
	if r := rrnode(t, "", "bench", "--sizes", "4KiB", "--engine", "v8", "--out", out); r.code != 2 || !strings.Contains(r.err, `--engine "v8": want wazero`) {
		t.Errorf("--engine v8: status %d, stderr %q", r.code, r.err)
	}
	for _, name := range []string{"wasmtime", "wasmedge"} {
		if _, err := lookupEngine(name); err == nil {
			continue // built with it
		}
		r := rrnode(t, "", "bench", "--sizes", "4KiB", "--engine", name, "--out", out)
		if r.code != 1 || !strings.Contains(r.err, "--engine "+name+": this rrnode was built without") || !strings.Contains(r.err, "-tags "+name) {
			t.Errorf("--engine %s, not built in: status %d, stderr %q", name, r.code, r.err)
		}
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Errorf("a refused --engine wrote %d files", len(ents))
	}
}
