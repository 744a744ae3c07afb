package tests

// rrnode with --accel sockmap: two nodes in two network namespaces joined
// by a veth, on one host, redirect their tcp connection through the
// host's sockmap (proven by the program's counter, and by TCP and the
// veth not carrying the payload bytes); the sockets leave the map with
// their connections and the pins go with the last node; a node without
// CAP_BPF/CAP_NET_ADMIN falls back to plain TCP and says so; io_uring and
// sockmap together.
//
// A node without the capabilities is this test binary re-executed: run
// with RR_TEST_DROPCAPS_EXEC=/path/to/rrnode, it drops CAP_BPF,
// CAP_NET_ADMIN, CAP_SYS_ADMIN and CAP_PERFMON from its bounding set and
// execs that rrnode, which then starts without them although it runs as
// root.

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/roadrunner-wasm/roadrunner/internal/netns"
	"github.com/roadrunner-wasm/roadrunner/internal/privileged"
	"github.com/roadrunner-wasm/roadrunner/transport/features"
)

const dropCapsExecEnv = "RR_TEST_DROPCAPS_EXEC"

// droppedCaps are what a node needs for BPF sockmaps.
var droppedCaps = []uintptr{unix.CAP_BPF, unix.CAP_NET_ADMIN, unix.CAP_SYS_ADMIN, unix.CAP_PERFMON}

func init() {
	bin := os.Getenv(dropCapsExecEnv)
	if bin == "" {
		return
	}
	for _, c := range droppedCaps {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, c, 0, 0, 0); err != nil {
			fmt.Fprintf(os.Stderr, "%s: drop capability %d: %v\n", dropCapsExecEnv, c, err)
			os.Exit(97)
		}
	}
	execAs(bin, dropCapsExecEnv)
}

// withoutBPFCaps returns the command that runs rrnode without the
// capabilities: this test binary, re-executed.
func withoutBPFCaps(t *testing.T, tr tree) (binary string, env []string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe, []string{dropCapsExecEnv + "=" + tr.rrnode}
}

// requireSockmap skips (fails in CI) where this host refuses sockmaps.
func requireSockmap(t *testing.T) {
	t.Helper()
	privileged.RequireRoot(t)
	if err := features.HaveSockmap(); err != nil {
		privileged.Skip(t, err.Error())
	}
}

// sockmapPinDir is a pin directory of the test's own under /sys/fs/bpf,
// which must be gone when the test's nodes have stopped.
func sockmapPinDir(t *testing.T) string {
	t.Helper()
	dir := fmt.Sprintf("/sys/fs/bpf/rr-tests-%d-%s", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "_"))
	t.Cleanup(func() {
		// Runs after the nodes' cleanups (registered later, run first).
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("pin directory %s after every node stopped: %v, want gone", dir, err)
			os.RemoveAll(dir)
		}
	})
	return dir
}

// sockmapSizes are the payloads the sockmap pipelines carry.
var sockmapSizes = []int{1, 4 << 10, 1 << 20, 64 << 20}

// sockmapPair starts b in nsB and a in nsA, joined by a veth, both with
// args and the pin directory dir; a's producer sends to b's transform.
func sockmapPair(t *testing.T, tr tree, dir string, aOpts, bOpts launchOpts) (a, b *rnode, nsA, nsB *netns.NS) {
	t.Helper()
	nsA, nsB = netns.ForTest(t, "sm-a"), netns.ForTest(t, "sm-b")
	veth(t, nsA, "198.18.0.1/24", nsB, "198.18.0.2/24")
	cdir := t.TempDir()
	bOpts.ns = nsB
	b = launch(t, tr, "b", nodeConfig{name: "b", listenTCP: "198.18.0.2:7070", insecureTCP: true, sockmapPinDir: dir, functions: []fn{transformFn, consumerFn}}.write(t, tr, cdir), bOpts)
	aOpts.ns = nsA
	a = launch(t, tr, "a", nodeConfig{
		name:          "a",
		sockmapPinDir: dir,
		functions:     []fn{producerFn},
		peers:         []peer{{name: "b", address: "tcp://198.18.0.2:7070", functions: []string{"transform", "consumer"}}},
	}.write(t, tr, cdir), aOpts)
	return a, b, nsA, nsB
}

func TestSockmapNetns(t *testing.T) {
	requireSockmap(t)
	tr := buildAll(t)
	for _, accel := range []string{"sockmap", "iouring,sockmap"} {
		t.Run(accel, func(t *testing.T) {
			if strings.Contains(accel, "iouring") {
				requireIOURing(t)
			}
			dir := sockmapPinDir(t)
			args := []string{"--accel", accel, "--strict-accel"}
			a, b, nsA, nsB := sockmapPair(t, tr, dir, launchOpts{args: args}, launchOpts{args: args})
			// A first invocation connects: a's HELLO, both sockets in the map.
			runPipeline(t, a, []int{0}, "tcp", "memory")
			// The payloads reach a over HTTP on its loopback, through
			// TCP: a's veth shows whether they crossed to b, and b's TCP
			// segments (ACKs, if the payload came through TCP) whether
			// TCP carried them.
			counters := func() (aTx, bSegs uint64) {
				ca, err := nsA.Counters()
				if err != nil {
					t.Fatal(err)
				}
				cb, err := nsB.Counters()
				if err != nil {
					t.Fatal(err)
				}
				return ca.TxBytes, cb.TCPOutSegs
			}
			tx0, segs0 := counters()
			redirected0 := a.metrics(t).get("rr_sockmap_redirected_bytes_total", "")
			runPipeline(t, a, sockmapSizes, "tcp", "memory")
			tx1, segs1 := counters()
			var total float64
			for _, n := range sockmapSizes {
				total += float64(n)
			}
			for _, n := range []*rnode{a, b} {
				m := n.metrics(t)
				for _, name := range strings.Split(accel, ",") {
					if got := m.get("rr_accel", `accel="`+name+`"`); got != 1 {
						t.Errorf(`%s: rr_accel{accel=%q} = %v, want 1`, n.name, name, got)
					}
				}
				if got := m.sum("rr_fallbacks_total"); got != 0 {
					t.Errorf("%s: rr_fallbacks_total %v, want 0", n.name, got)
				}
				if got := m.get("rr_sockmap_sockets", ""); got < 1 {
					t.Errorf("%s: rr_sockmap_sockets = %v, want >= 1 (its end of the connection)", n.name, got)
				}
			}
			redirected := a.metrics(t).get("rr_sockmap_redirected_bytes_total", "") - redirected0
			segs, tx := segs1-segs0, tx1-tx0
			t.Logf("payload %.0f bytes: redirected %.0f bytes; a sent %d bytes on its veth, b's namespace %d TCP segments", total, redirected, tx, segs)
			if redirected < total {
				t.Errorf("the program redirected %.0f bytes, want at least the %.0f payload bytes", redirected, total)
			}
			// Through TCP these payloads would take ~46000 segments, and
			// b would acknowledge them with thousands.
			if segs > 200 || float64(tx) > total/100 {
				t.Errorf("a sent %d bytes on its veth, b's namespace %d TCP segments: the payloads went through TCP", tx, segs)
			}

			// a's connections close when a stops: both ends' sockets leave
			// the map, and b, the last node, removes the pins.
			if got := b.metrics(t).get("rr_sockmap_host_sockets", ""); got < 2 {
				t.Errorf("b: rr_sockmap_host_sockets = %v before a stops, want >= 2 (both ends)", got)
			}
			if _, err := a.Stop(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				m := b.metrics(t)
				mine, host := m.get("rr_sockmap_sockets", ""), m.get("rr_sockmap_host_sockets", "")
				if mine == 0 && host == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("b: 10 s after a stopped, rr_sockmap_sockets = %v and rr_sockmap_host_sockets = %v, want 0: sockets left in the map", mine, host)
				}
				time.Sleep(50 * time.Millisecond)
			}
			if _, err := os.Stat(dir); err != nil {
				t.Errorf("pins gone while b still runs: %v", err)
			}
			if _, err := b.Stop(); err != nil {
				t.Fatal(err)
			}
			b.log.waitLine(t, 0, 5*time.Second, "pins removed")
		})
	}
}

// TestSockmapNoCaps starts a without CAP_BPF, CAP_NET_ADMIN and
// CAP_SYS_ADMIN: its transfers to b go over plain TCP, every one counted
// as a fallback with EPERM; probe says why; --strict-accel refuses to
// start.
func TestSockmapNoCaps(t *testing.T) {
	requireSockmap(t)
	tr := buildAll(t)
	bin, env := withoutBPFCaps(t, tr)
	dir := sockmapPinDir(t)

	rows := probeFeatures(t, bin, env)
	if f := rows["sockmap"]; f.Available || !strings.Contains(f.Reason, "EPERM") || !strings.Contains(f.Reason, "this process lacks CAP_BPF, CAP_NET_ADMIN") {
		t.Errorf("probe without the capabilities: sockmap %+v; want unavailable with EPERM, naming CAP_BPF and CAP_NET_ADMIN", f)
	}

	args := []string{"--accel", "sockmap"}
	a, b, _, _ := sockmapPair(t, tr, dir, launchOpts{binary: bin, env: env, args: args}, launchOpts{args: args})
	sizes := []int{1, 1 << 20, 16 << 20}
	runPipeline(t, a, sizes, "tcp", "memory")
	checkRefused(t, a, "sockmap", "EPERM", len(sizes), "sockmap refused")
	if got := b.metrics(t).get("rr_sockmap_sockets", ""); got != 0 {
		t.Errorf("b: rr_sockmap_sockets = %v, want 0: its peer cannot join the map", got)
	}

	t.Run("strict", func(t *testing.T) {
		config := nodeConfig{name: "s", sockmapPinDir: dir, functions: []fn{consumerFn}}.write(t, tr, t.TempDir())
		checkStrictRefused(t, bin, env, config, "sockmap", "EPERM")
	})
}
