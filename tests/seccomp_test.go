package tests

// The tcp path's fallback: a node whose process may not use vmsplice and
// splice (a seccomp filter makes them fail with EPERM) sends with writev
// instead, counts the fallback, and rrnode probe says why.
//
// The filter is installed by this test binary itself: run with
// RR_TEST_SECCOMP_EXEC=/path/to/rrnode, it loads the filter (no_new_privs,
// TSYNC: every thread) before anything else and execs that rrnode with its
// own arguments. The filter survives the exec. That needs no privilege.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	seccomp "github.com/elastic/go-seccomp-bpf"

	"github.com/roadrunner-wasm/roadrunner/internal/privileged"
)

const (
	seccompExecEnv = "RR_TEST_SECCOMP_EXEC"
	// seccompFilterEnv picks the filter: "splice" (the default) or
	// "docker-iouring" (iouring_test.go).
	seccompFilterEnv = "RR_TEST_SECCOMP_FILTER"
)

// refuseSplice makes vmsplice and splice fail with EPERM.
var refuseSplice = refuseEPERM("vmsplice", "splice")

// refuseEPERM is a filter that makes the system calls named fail with
// EPERM and allows every other, in every thread, surviving exec.
func refuseEPERM(names ...string) seccomp.Filter {
	return seccomp.Filter{
		NoNewPrivs: true,
		Flag:       seccomp.FilterFlagTSync,
		Policy: seccomp.Policy{
			DefaultAction: seccomp.ActionAllow,
			Syscalls:      []seccomp.SyscallGroup{{Action: seccomp.ActionErrno, Names: names}}, // EPERM
		},
	}
}

// init, not TestMain: it must run before the testing package does anything.
func init() {
	bin := os.Getenv(seccompExecEnv)
	if bin == "" {
		return
	}
	filter := refuseSplice
	var err error
	switch os.Getenv(seccompFilterEnv) {
	case "docker-iouring":
		filter, err = dockerIOURingFilter()
	case "docker-shm":
		filter, err = dockerShmFilter()
	case "memfd":
		filter = refuseMemfd
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", seccompFilterEnv, err)
		os.Exit(96)
	}
	if err := seccomp.LoadFilter(filter); err != nil {
		fmt.Fprintf(os.Stderr, "%s: load the seccomp filter: %v\n", seccompExecEnv, err)
		os.Exit(97)
	}
	execAs(bin, seccompExecEnv, seccompFilterEnv)
}

// execAs replaces this test binary, run as a wrapper, with bin and this
// process's arguments, in its environment without the wrapper's
// variables (vars; the first names the wrapper in errors). It exits 98 if
// the exec fails.
func execAs(bin string, vars ...string) {
	env := make([]string, 0, len(os.Environ()))
	for _, e := range os.Environ() {
		if !slices.ContainsFunc(vars, func(v string) bool { return strings.HasPrefix(e, v+"=") }) {
			env = append(env, e)
		}
	}
	err := syscall.Exec(bin, append([]string{bin}, os.Args[1:]...), env)
	fmt.Fprintf(os.Stderr, "%s: exec %s: %v\n", vars[0], bin, err)
	os.Exit(98)
}

// underSeccomp returns the command that runs rrnode with args under the
// filter: this test binary, re-executed.
func underSeccomp(t *testing.T, tr tree) (binary string, env []string) {
	t.Helper()
	if !seccomp.Supported() {
		privileged.Skip(t, "seccomp filters are not supported here")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe, []string{seccompExecEnv + "=" + tr.rrnode}
}

// probeRow is a feature of rrnode probe --json.
type probeRow struct {
	Name      string `json:"name"`
	Available bool   `json:"available"`
	Reason    string `json:"reason"`
	Detail    string `json:"detail"`
}

// probeFeatures runs `binary probe --json` with env and returns its
// features by name.
func probeFeatures(t *testing.T, binary string, env []string) map[string]probeRow {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "probe", "--json")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s probe --json: %v\n%s", binary, err, out)
	}
	var r struct {
		Kernel   string     `json:"kernel"`
		Features []probeRow `json:"features"`
		Engines  []struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"engines"`
	}
	jsonDecode(t, out, &r)
	if r.Kernel == "" || len(r.Engines) == 0 {
		t.Errorf("probe --json: kernel %q, engines %+v; want both", r.Kernel, r.Engines)
	}
	rows := map[string]probeRow{}
	for _, f := range r.Features {
		rows[f.Name] = f
	}
	return rows
}

func TestSeccompProbe(t *testing.T) {
	tr := build(t)
	bin, env := underSeccomp(t, tr)
	plain := probeFeatures(t, tr.rrnode, nil)
	filtered := probeFeatures(t, bin, env)
	for _, name := range []string{"splice", "vmsplice"} {
		if !plain[name].Available {
			privileged.Skip(t, fmt.Sprintf("%s is unavailable even without the filter: %s", name, plain[name].Reason))
		}
		if f := filtered[name]; f.Available || !strings.Contains(f.Reason, "EPERM") {
			t.Errorf("probe under the filter: %s %+v; want unavailable with EPERM", name, f)
		}
	}
	for _, name := range []string{"memory", "unix", "tcp"} {
		if f := filtered[name]; !f.Available {
			t.Errorf("probe under the filter: %s %+v; want available", name, f)
		}
	}
}

// Node a runs under the filter with --tcp-send splice and sends to b over
// tcp on loopback: every transfer succeeds over writev, and the fallback
// is logged once and counted.
func TestSeccompFallback(t *testing.T) {
	tr := build(t)
	bin, env := underSeccomp(t, tr)
	dir := shortDir(t)
	b := launch(t, tr, "b", nodeConfig{name: "b", listenTCP: "127.0.0.1:0", functions: []fn{transformFn, consumerFn}}.write(t, tr, dir), launchOpts{})
	addr := b.listenAddr(t, "tcp")
	a := launch(t, tr, "a", nodeConfig{
		name:      "a",
		functions: []fn{producerFn},
		peers:     []peer{{name: "b", address: "tcp://" + addr, functions: []string{"transform", "consumer"}}},
	}.write(t, tr, dir), launchOpts{binary: bin, env: env, args: []string{"--tcp-send", "splice"}})

	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", a.PID()))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(status), "Seccomp:\t2") {
		t.Fatalf("node a runs without a seccomp filter:\n%s", status)
	}

	sizes := []int{1, 1 << 20, 16 << 20}
	runPipeline(t, a, sizes, "tcp", "memory")

	m := a.metrics(t)
	if got := m.get("rr_transfers_total", `path="tcp",result="ok"`); got != float64(len(sizes)) {
		t.Errorf(`a: rr_transfers_total{path="tcp",result="ok"} = %v, want %d`, got, len(sizes))
	}
	// Carried by write, whatever was asked for.
	if got := m.get("rr_transfers_total", `mechanism="write",path="tcp",result="ok"`); got != float64(len(sizes)) {
		t.Errorf(`a: rr_transfers_total{mechanism="write",path="tcp",result="ok"} = %v, want %d: splice is refused`, got, len(sizes))
	}
	// Every transfer asked for splice and went with writev: each counts.
	if got := m.get("rr_fallbacks_total", `accel="splice",reason="EPERM",to="writev"`); got != float64(len(sizes)) {
		t.Errorf(`a: rr_fallbacks_total{accel="splice",reason="EPERM",to="writev"} = %v, want %d (one per transfer); all fallbacks: %v`, got, len(sizes), m.sum("rr_fallbacks_total"))
	}
	line := a.log.waitLine(t, 0, 5*time.Second, "EPERM", "splice")
	t.Logf("a logged: %s", line)
	if n := strings.Count(a.log.since(0), "EPERM"); n != 1 {
		t.Errorf("a logged EPERM %d times, want once (the first fallback):\n%s", n, a.log.since(0))
	}
}
