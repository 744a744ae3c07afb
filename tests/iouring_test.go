package tests

// rrnode with --accel iouring: the pipeline and buffer reuse over the unix
// path and over the tcp path between network namespaces, content verified;
// the fallback to plain syscalls under Docker's default seccomp profile and
// under kernel.io_uring_disabled=2; --strict-accel refusing to start.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	seccomp "github.com/elastic/go-seccomp-bpf"
	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/roadrunner-wasm/roadrunner/internal/netns"
	"github.com/roadrunner-wasm/roadrunner/internal/privileged"
	"github.com/roadrunner-wasm/roadrunner/transport/features"
)

// ringSizes are the payloads the io_uring pipelines carry.
var ringSizes = []int{0, 1, 4 << 10, 1 << 20, 64 << 20, 256 << 20}

var iouringArgs = []string{"--accel", "iouring"}

// requireIOURing skips (fails in CI) where this host refuses io_uring.
func requireIOURing(t *testing.T) {
	t.Helper()
	if err := features.HaveIOURing(); err != nil {
		privileged.Skip(t, err.Error())
	}
}

// checkRingOn checks that n uses io_uring and fell back nowhere, and that
// the ring carried at least large of n's transfers over path (those over
// the default RingMin of 4 MiB: ringSizes has 2), sent by the sender,
// received by the receiver, counted by the mechanism that moved them.
func checkRingOn(t *testing.T, n *rnode, path string, large int) {
	t.Helper()
	m := n.metrics(t)
	if got := m.get("rr_accel", `accel="iouring"`); got != 1 {
		t.Errorf(`%s: rr_accel{accel="iouring"} = %v, want 1`, n.name, got)
	}
	if got := m.sum("rr_transfers_total", `mechanism="iouring"`, `path="`+path+`"`, `result="ok"`); got < float64(large) {
		t.Errorf(`%s: rr_transfers_total{mechanism="iouring",path=%q} = %v, want at least %d: the ring did not carry the large payloads`, n.name, path, got, large)
	}
	if got := m.sum("rr_fallbacks_total"); got != 0 {
		t.Errorf("%s: rr_fallbacks_total %v, want 0", n.name, got)
	}
}

func TestIOURingUnix(t *testing.T) {
	requireIOURing(t)
	tr := buildAll(t)
	dir := shortDir(t)
	sock := filepath.Join(dir, "b.sock")
	b := launch(t, tr, "b", nodeConfig{name: "b", listenUnix: sock, functions: []fn{transformFn, consumerFn, verifyFn}}.write(t, tr, dir), launchOpts{args: iouringArgs})
	a := launch(t, tr, "a", nodeConfig{
		name:      "a",
		functions: []fn{producerFn, reuseFn},
		peers:     []peer{{name: "b", address: "unix://" + sock, functions: []string{"transform", "consumer", "verify"}}},
	}.write(t, tr, dir), launchOpts{args: iouringArgs})
	runPipeline(t, a, ringSizes, "unix", "memory")
	runReuse(t, a, b, "unix")
	checkRingOn(t, a, "unix", 2)
	checkRingOn(t, b, "unix", 2)
}

// Zero copy is on for the tcp path: the first large transfer of each
// connection goes with SEND_ZC, the kernel reports it copied (veth), and
// the connection turns it off, counted.
func TestIOURingTCPNetns(t *testing.T) {
	requireIOURing(t)
	nsA, nsB := netns.ForTest(t, "ring-a"), netns.ForTest(t, "ring-b")
	tr := buildAll(t)
	veth(t, nsA, "198.18.0.1/24", nsB, "198.18.0.2/24")
	dir := t.TempDir()
	b := launch(t, tr, "b", nodeConfig{name: "b", listenTCP: "198.18.0.2:7070", insecureTCP: true, functions: []fn{transformFn, consumerFn, verifyFn}}.write(t, tr, dir), launchOpts{ns: nsB, args: iouringArgs})
	a := launch(t, tr, "a", nodeConfig{
		name:      "a",
		functions: []fn{producerFn, reuseFn},
		peers:     []peer{{name: "b", address: "tcp://198.18.0.2:7070", functions: []string{"transform", "consumer", "verify"}}},
	}.write(t, tr, dir), launchOpts{ns: nsA, args: iouringArgs})
	runPipeline(t, a, ringSizes, "tcp", "memory")
	runReuse(t, a, b, "tcp")
	checkRingOn(t, a, "tcp", 2)
	checkRingOn(t, b, "tcp", 2)
	if err := features.HaveSendZC(); err != nil {
		if privileged.Required() {
			t.Errorf("SEND_ZC unavailable with %s=1: %v", privileged.Env, err)
		}
	} else {
		if got := a.metrics(t).get("rr_zerocopy_copied_total", ""); got < 1 {
			t.Errorf("a: rr_zerocopy_copied_total = %v, want >= 1 (veth copies every zero-copy send)", got)
		}
		a.log.waitLine(t, 0, 5*time.Second, "zero-copy sends come back copied")
	}
	smallIsPrompt(t, a, b, "198.18.0.2:7070")
}

// dockerIOURingFilter is the part of Docker's default seccomp profile
// (github.com/moby/profiles/seccomp) that decides io_uring: what the
// profile does with io_uring_setup, io_uring_enter and io_uring_register —
// no rule names them, so its default action, an errno — applied to those
// three calls; every other call is allowed.
func dockerIOURingFilter() (seccomp.Filter, error) {
	p := mobyseccomp.DefaultProfile()
	names := []string{"io_uring_setup", "io_uring_enter", "io_uring_register"}
	action, errno := p.DefaultAction, p.DefaultErrnoRet
	for _, sc := range p.Syscalls {
		if slices.ContainsFunc(names, func(n string) bool { return slices.Contains(sc.Names, n) }) {
			action, errno = sc.Action, sc.ErrnoRet
		}
	}
	if action != specs.ActErrno || errno == nil {
		return seccomp.Filter{}, fmt.Errorf("docker's default profile: io_uring gets %s, not an errno: this test needs updating", action)
	}
	return seccomp.Filter{
		NoNewPrivs: true,
		Flag:       seccomp.FilterFlagTSync,
		Policy: seccomp.Policy{
			DefaultAction: seccomp.ActionAllow,
			Syscalls: []seccomp.SyscallGroup{{
				Action: seccomp.ActionErrno | seccomp.Action(*errno),
				Names:  names,
			}},
		},
	}, nil
}

// dockerErrno is the errno Docker's default profile answers io_uring with,
// as features.Reason names it.
func dockerErrno(t *testing.T) string {
	t.Helper()
	f, err := dockerIOURingFilter()
	if err != nil {
		t.Fatal(err)
	}
	errno := unix.Errno(f.Policy.Syscalls[0].Action &^ seccomp.ActionErrno)
	return features.Reason(errno)
}

// runFallback runs the pipeline from a (refused io_uring) to b over the
// unix path and checks that every transfer succeeded on plain syscalls and
// a reported the fallback with reason.
func runFallback(t *testing.T, a, b *rnode, reason string) {
	t.Helper()
	sizes := []int{1, 4 << 10, 1 << 20, 16 << 20}
	runPipeline(t, a, sizes, "unix", "memory")
	checkRefused(t, a, "iouring", reason, len(sizes), "io_uring refused")
	if got := a.metrics(t).sum("rr_transfers_total", `mechanism="iouring"`); got != 0 {
		t.Errorf(`a: rr_transfers_total{mechanism="iouring"} = %v with io_uring refused, want 0`, got)
	}
	checkRingOn(t, b, "unix", 1) // the 16 MiB payload
}

// checkRefused checks that n reports accel refused for reason: rr_accel
// 0, rr_fallbacks_total counting each of its transfers, and the warning
// (with logWords) in its log.
func checkRefused(t *testing.T, n *rnode, accel, reason string, transfers int, logWords ...string) {
	t.Helper()
	m := n.metrics(t)
	if got := m.get("rr_accel", `accel="`+accel+`"`); got != 0 {
		t.Errorf(`%s: rr_accel{accel=%q} = %v, want 0 (refused)`, n.name, accel, got)
	}
	labels := `accel="` + accel + `",reason="` + reason + `",to="plain"`
	if got := m.get("rr_fallbacks_total", labels); got != float64(transfers) {
		t.Errorf("%s: rr_fallbacks_total{%s} = %v, want %d (one per transfer); all: %v", n.name, labels, got, transfers, m.sum("rr_fallbacks_total"))
	}
	line := n.log.waitLine(t, 0, 5*time.Second, append(logWords, reason)...)
	t.Logf("%s logged: %s", n.name, line)
}

// checkStrictRefused starts `bin start --accel accel --strict-accel` on
// config with env, and checks that it exits 1 naming the refusal and
// reason.
func checkStrictRefused(t *testing.T, bin string, env []string, config, accel, reason string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "start", "--config", config, "--http", "127.0.0.1:0", "--accel", accel, "--strict-accel")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("rrnode start --accel %s --strict-accel: %v, want exit 1\n%s", accel, err, out)
	}
	if !strings.Contains(string(out), "accel "+accel+": refused") || !strings.Contains(string(out), reason) {
		t.Errorf("output does not name the refusal and %s:\n%s", reason, out)
	}
}

// fallbackPair starts b (io_uring on) and a (io_uring asked for, started
// with o) on the unix path.
func fallbackPair(t *testing.T, tr tree, o launchOpts) (a, b *rnode) {
	dir := shortDir(t)
	sock := filepath.Join(dir, "b.sock")
	b = launch(t, tr, "b", nodeConfig{name: "b", listenUnix: sock, functions: []fn{transformFn, consumerFn}}.write(t, tr, dir), launchOpts{args: iouringArgs})
	o.args = append(o.args, iouringArgs...)
	a = launch(t, tr, "a", nodeConfig{
		name:      "a",
		functions: []fn{producerFn},
		peers:     []peer{{name: "b", address: "unix://" + sock, functions: []string{"transform", "consumer"}}},
	}.write(t, tr, dir), o)
	return a, b
}

func TestIOURingSeccompFallback(t *testing.T) {
	requireIOURing(t)
	tr := buildAll(t)
	bin, env := underSeccomp(t, tr)
	env = append(env, seccompFilterEnv+"=docker-iouring")
	reason := dockerErrno(t)

	rows := probeFeatures(t, bin, env)
	for _, name := range []string{"io_uring", "io_uring.send_zc"} {
		if f := rows[name]; f.Available || !strings.Contains(f.Reason, reason) {
			t.Errorf("probe under Docker's profile: %s %+v; want unavailable with %s", name, f, reason)
		}
	}
	if f := probeFeatures(t, tr.rrnode, nil)["io_uring"]; !f.Available {
		t.Errorf("probe without a filter: io_uring %+v, want available", f)
	}

	a, b := fallbackPair(t, tr, launchOpts{binary: bin, env: env})
	runFallback(t, a, b, reason)

	t.Run("strict", func(t *testing.T) {
		config := nodeConfig{name: "s", functions: []fn{consumerFn}}.write(t, tr, shortDir(t))
		checkStrictRefused(t, bin, env, config, "iouring", reason)
	})
}

// kernel.io_uring_disabled=2 refuses io_uring to every process: set for
// the test, restored after.
func TestIOURingSysctlFallback(t *testing.T) {
	requireIOURing(t)
	privileged.RequireRoot(t)
	tr := buildAll(t)
	const knob = "/proc/sys/kernel/io_uring_disabled"
	old, err := os.ReadFile(knob)
	if err != nil {
		privileged.Skip(t, "no kernel.io_uring_disabled: "+err.Error())
	}
	if err := os.WriteFile(knob, []byte("2"), 0); err != nil {
		t.Fatalf("set kernel.io_uring_disabled=2: %v", err)
	}
	t.Cleanup(func() {
		if err := os.WriteFile(knob, old, 0); err != nil {
			t.Errorf("restore kernel.io_uring_disabled=%s: %v", strings.TrimSpace(string(old)), err)
		}
	})
	if f := probeFeatures(t, tr.rrnode, nil)["io_uring"]; f.Available || !strings.Contains(f.Reason, "io_uring_disabled=2") {
		t.Errorf("probe with kernel.io_uring_disabled=2: io_uring %+v, want unavailable naming the sysctl", f)
	}
	// b starts with io_uring refused too: it serves on plain syscalls.
	dir := shortDir(t)
	sock := filepath.Join(dir, "b.sock")
	b := launch(t, tr, "b", nodeConfig{name: "b", listenUnix: sock, functions: []fn{transformFn, consumerFn}}.write(t, tr, dir), launchOpts{args: iouringArgs})
	a := launch(t, tr, "a", nodeConfig{
		name:      "a",
		functions: []fn{producerFn},
		peers:     []peer{{name: "b", address: "unix://" + sock, functions: []string{"transform", "consumer"}}},
	}.write(t, tr, dir), launchOpts{args: iouringArgs})
	sizes := []int{1, 1 << 20, 16 << 20}
	runPipeline(t, a, sizes, "unix", "memory")
	for _, n := range []*rnode{a, b} {
		m := n.metrics(t)
		if got := m.get("rr_accel", `accel="iouring"`); got != 0 {
			t.Errorf(`%s: rr_accel{accel="iouring"} = %v, want 0`, n.name, got)
		}
		// a falls back on each send, b on each frame it receives.
		labels := `accel="iouring",reason="EPERM",to="plain"`
		if got := m.get("rr_fallbacks_total", labels); got != float64(len(sizes)) {
			t.Errorf("%s: rr_fallbacks_total{%s} = %v, want %d; all: %v", n.name, labels, got, len(sizes), m.sum("rr_fallbacks_total"))
		}
		n.log.waitLine(t, 0, 5*time.Second, "io_uring refused", "io_uring_disabled=2")
	}
}
