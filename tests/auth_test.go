package tests

// Authentication between rrnode processes (issue 16): the HELLO keys on
// every path and accelerator, refusals that reach no guest, key rotation
// across restarts, TLS between two nodes, and the start-up refusal of a
// non-loopback bind without authentication.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/internal/nodeproc"
	"github.com/roadrunner-wasm/roadrunner/internal/privileged"
	"github.com/roadrunner-wasm/roadrunner/internal/testcerts"
	"github.com/roadrunner-wasm/roadrunner/transport"
	"github.com/roadrunner-wasm/roadrunner/transport/features"
	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

// writeKeys writes a key file of the given keys (hex lines) and returns
// its path.
func writeKeys(t *testing.T, dir, name string, keys ...string) string {
	t.Helper()
	file := filepath.Join(dir, name)
	if err := os.WriteFile(file, []byte(strings.Join(keys, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// authClean checks that each node counted no authentication failure.
func authClean(t *testing.T, nodes ...*rnode) {
	t.Helper()
	for _, n := range nodes {
		if got := n.metrics(t).sum("rr_auth_failures_total"); got != 0 {
			t.Errorf("%s: rr_auth_failures_total %v, want 0", n.name, got)
		}
	}
}

// TestAuthPathsNodes: two nodes with the same keys carry the pipeline's
// payloads, verified by the consumer, on every path and accelerator.
func TestAuthPathsNodes(t *testing.T) {
	tr := buildAll(t)
	dir := shortDir(t)
	keys := writeKeys(t, dir, "keys", transport.GenerateKey())
	for _, c := range []struct {
		name, path, tcpSend string
		accel               string
		need                func() error
	}{
		{name: "unix", path: "unix"},
		{name: "tcp-write", path: "tcp", tcpSend: "write"},
		{name: "tcp-splice", path: "tcp", tcpSend: "splice"},
		{name: "unix-iouring", path: "unix", accel: "iouring", need: features.HaveIOURing},
		{name: "tcp-iouring", path: "tcp", accel: "iouring", need: features.HaveIOURing},
		{name: "tcp-sockmap", path: "tcp", accel: "sockmap", need: features.HaveSockmap},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.need != nil {
				if err := c.need(); err != nil {
					privileged.Skip(t, err.Error())
				}
			}
			var args []string
			if c.accel != "" {
				args = []string{"--accel", c.accel, "--strict-accel"}
			}
			pin := ""
			if c.accel == "sockmap" {
				pin = fmt.Sprintf("/sys/fs/bpf/rr-auth-test-%d", os.Getpid())
			}
			sock := filepath.Join(dir, c.name+".sock")
			b := launch(t, tr, "b", nodeConfig{name: "b-" + c.name, listenUnix: sock, listenTCP: "127.0.0.1:0", keys: keys, sockmapPinDir: pin,
				functions: []fn{transformFn, consumerFn}}.write(t, tr, dir), launchOpts{args: args})
			addr := "unix://" + sock
			if c.path == "tcp" {
				addr = "tcp://" + b.listenAddr(t, "tcp")
			}
			a := launch(t, tr, "a", nodeConfig{name: "a-" + c.name, keys: keys, tcpSend: c.tcpSend, sockmapPinDir: pin, functions: []fn{producerFn},
				peers: []peer{{name: "b", address: addr, functions: []string{"transform", "consumer"}}}}.write(t, tr, dir), launchOpts{args: args})
			sizes := []int{0, 1, 1 << 20, 64 << 20}
			runPipeline(t, a, sizes, c.path, "memory")
			m := a.metrics(t)
			if got := m.sum("rr_transfers_total", `path="`+c.path+`"`, `result="ok"`); got != float64(len(sizes)) {
				t.Errorf("a sent %v transfers over %s, want %d", got, c.path, len(sizes))
			}
			switch {
			case c.tcpSend == "splice":
				if got := m.sum("rr_transfers_total", `mechanism="splice"`, `result="ok"`); got == 0 {
					t.Error("no transfer was spliced")
				}
			case c.accel == "iouring":
				checkRingOn(t, a, c.path, 1)
			case c.accel == "sockmap":
				if got := m.get("rr_sockmap_redirected_bytes_total", ""); got < 64<<20 {
					t.Errorf("the sockmap redirected %v bytes, want at least 64 MiB", got)
				}
			}
			if got := m.sum("rr_fallbacks_total"); got != 0 {
				t.Errorf("a: rr_fallbacks_total %v, want 0", got)
			}
			authClean(t, a, b)
		})
	}
}

// TestAuthRefusedNodes: connections that do not prove the key are
// refused, counted by reason, and reach no guest: the receiving function's
// rr_alloc and rr_handle were never called for them.
func TestAuthRefusedNodes(t *testing.T) {
	tr := buildAll(t)
	dir := shortDir(t)
	keys := writeKeys(t, dir, "keys", transport.GenerateKey())
	other := writeKeys(t, dir, "other", transport.GenerateKey())
	b := launch(t, tr, "b", nodeConfig{name: "b", listenTCP: "127.0.0.1:0", keys: keys,
		functions: []fn{{name: "counter", module: "counter"}, transformFn, consumerFn}}.write(t, tr, dir), launchOpts{})
	addr := b.listenAddr(t, "tcp")
	allocs0, handles0 := counts(t, b)

	raw := func(data []byte) {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		c.Write(data)
		c.(*net.TCPConn).CloseWrite()
		buf := make([]byte, 4096)
		for {
			if _, err := c.Read(buf); err != nil {
				if errors.Is(err, os.ErrDeadlineExceeded) {
					t.Error("the node did not close the connection")
				}
				return
			}
		}
	}
	hello := func(h wire.Hello) []byte {
		p := h.Append(nil)
		hd := wire.Header{Kind: wire.KindHello, PayloadLen: uint64(len(p))}
		return append(wire.AppendHeader(nil, &hd), p...)
	}
	data := dataFrame(1, "counter", pattern(4096))
	m1 := hello(wire.Hello{Version: wire.AuthVersion, HasNonce: true, Name: "raw"})
	raw(data)                                                                // no_hello
	raw(m1[:len(m1)-5])                                                      // malformed (truncated)
	raw(hello(wire.Hello{Version: 7, HasNonce: true}))                       // unknown_version
	raw(append(append([]byte{}, m1...), hello(wire.Hello{HasMAC: true})...)) // bad_mac
	// A node with another key.
	c := launch(t, tr, "c", nodeConfig{name: "c", keys: other, functions: []fn{producerFn},
		peers: []peer{{name: "b", address: "tcp://" + addr, functions: []string{"transform", "consumer"}}}}.write(t, tr, dir), launchOpts{})
	if ans := c.invoke(t, "producer", pattern(1<<20)); ans.status == 200 {
		t.Errorf("a node with another key got its pipeline through: %d %s", ans.status, ans.body)
	}

	// c's Send failed once c refused b's proof; b counts its side when it
	// reads that refusal, which may come after.
	waitMetric(t, b, "rr_auth_failures_total", `path="tcp",reason="bad_mac"`, 2)
	m := b.metrics(t)
	for reason, want := range map[string]float64{"no_hello": 1, "malformed": 1, "unknown_version": 1, "bad_mac": 2} {
		if got := m.get("rr_auth_failures_total", `path="tcp",reason="`+reason+`"`); got != want {
			t.Errorf(`b: rr_auth_failures_total{path="tcp",reason=%q} = %v, want %v`, reason, got, want)
		}
	}
	if got := c.metrics(t).get("rr_auth_failures_total", `path="tcp",reason="bad_mac"`); got < 1 {
		t.Errorf("c did not count b's proof as bad_mac: %v", got)
	}
	for _, f := range []string{"transform", "consumer"} {
		if got := m.sum("rr_invocations_total", `function="`+f+`"`); got != 0 {
			t.Errorf("b's %s was invoked %v times", f, got)
		}
	}
	allocs, handles := counts(t, b)
	// counts itself is one invocation: one rr_alloc, one rr_handle.
	if allocs != allocs0+1 || handles != handles0+1 {
		t.Errorf("counter: %d allocs and %d handles since, want 1 and 1 (its own count): a refused connection reached the guest", allocs-allocs0, handles-handles0)
	}
	b.log.waitLine(t, 0, 10*time.Second, "authentication failed", "reason=bad_mac", "peer=127.0.0.1:")
}

// waitMetric waits until n's metric name{labels} is want (10 s at most).
func waitMetric(t *testing.T, n *rnode, name, labels string, want float64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		got := n.metrics(t).get(name, labels)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s{%s} = %v, want %v", n.name, name, labels, got, want)
		}
	}
}

// TestAuthRotationNodes rotates the key of two nodes, each sending to the
// other (producer on a, transform on b, consumer on a), in the documented
// order, restarting one node at a time: every invocation goes through.
func TestAuthRotationNodes(t *testing.T) {
	tr := buildAll(t)
	dir := shortDir(t)
	old, nu := transport.GenerateKey(), transport.GenerateKey()
	steps := [][]string{{old}, {old, nu}, {nu, old}, {nu}}
	sockA, sockB := filepath.Join(dir, "a.sock"), filepath.Join(dir, "b.sock")
	start := func(name string, step int) *rnode {
		keys := writeKeys(t, dir, fmt.Sprintf("%s-%d", name, step), steps[step]...)
		cfg := nodeConfig{name: "a", listenUnix: sockA, keys: keys, functions: []fn{producerFn, consumerFn},
			peers: []peer{{name: "b", address: "unix://" + sockB, functions: []string{"transform"}}}}
		if name == "b" {
			cfg = nodeConfig{name: "b", listenUnix: sockB, keys: keys, functions: []fn{transformFn},
				peers: []peer{{name: "a", address: "unix://" + sockA, functions: []string{"consumer"}}}}
		}
		return launch(t, tr, name, cfg.write(t, tr, dir), launchOpts{})
	}
	a, b := start("a", 0), start("b", 0)
	check := func(stage string) {
		t.Helper()
		payload := pattern(1 << 20)
		ans := a.invoke(t, "producer", payload)
		if ans.status != 200 {
			t.Fatalf("%s: %d %s", stage, ans.status, ans.body)
		}
		checkRemotePipeline(t, ans, payload, "unix", "unix") // the consumer, back on a, verified it
	}
	check("start")
	for step := 1; step < len(steps); step++ {
		for _, name := range []string{"a", "b"} {
			n := &a
			if name == "b" {
				n = &b
			}
			if _, err := (*n).Stop(); err != nil {
				t.Fatal(err)
			}
			*n = start(name, step)
			check(fmt.Sprintf("step %d, %s restarted", step, name))
		}
	}
	authClean(t, a, b)
}

// TestTLSNodes: two nodes over TLS carry payloads from 0 B to 64 MiB,
// verified; the accelerators asked for are reported lost at start and
// counted as fallbacks with the reason tls.
func TestTLSNodes(t *testing.T) {
	tr := buildAll(t)
	dir := shortDir(t)
	ca := testcerts.NewCA(t, dir, "cluster")
	la, lb := ca.Issue(t, "a"), ca.Issue(t, "b")
	args := []string{"--accel", "iouring"}
	if err := features.HaveIOURing(); err != nil {
		if privileged.Required() {
			t.Fatalf("%s=1: io_uring refused: %v", privileged.Env, err)
		}
		args = nil // the TLS part still runs; its io_uring fallback is not checked
	}
	b := launch(t, tr, "b", nodeConfig{name: "b", listenTCP: "127.0.0.1:0", tls: [3]string{lb.Cert, lb.Key, ca.File},
		functions: []fn{transformFn, consumerFn}}.write(t, tr, dir), launchOpts{})
	mark := 0
	a := launch(t, tr, "a", nodeConfig{name: "a", tls: [3]string{la.Cert, la.Key, ca.File}, tcpSend: "splice", functions: []fn{producerFn},
		peers: []peer{{name: "b", address: "tcp://" + b.listenAddr(t, "tcp"), functions: []string{"transform", "consumer"}}}}.write(t, tr, dir), launchOpts{args: args})
	line := a.log.waitLine(t, mark, 10*time.Second, "node.tls", "splice", "kernel_tls")
	if !strings.Contains(line, "level=WARN") {
		t.Errorf("the start-up line about TLS is not a warning: %s", line)
	}
	sizes := []int{0, 1, 4096, 1 << 20, 64 << 20}
	runPipeline(t, a, sizes, "tcp", "memory")
	m := a.metrics(t)
	n := float64(len(sizes))
	if got := m.get("rr_fallbacks_total", `accel="splice",reason="tls",to="write"`); got != n {
		t.Errorf(`rr_fallbacks_total{accel="splice",reason="tls"} = %v, want %v (one per transfer)`, got, n)
	}
	if args != nil {
		if got := m.get("rr_fallbacks_total", `accel="iouring",reason="tls",to="plain"`); got != n {
			t.Errorf(`rr_fallbacks_total{accel="iouring",reason="tls"} = %v, want %v`, got, n)
		}
	}
	authClean(t, a, b)
}

// TestInsecureBind: a node whose tcp listener binds a non-loopback
// address without keys refuses to start and names the fix; with
// node.auth.insecure it starts and warns.
func TestInsecureBind(t *testing.T) {
	tr := buildAll(t)
	dir := shortDir(t)
	cfg := nodeConfig{name: "open", listenTCP: "0.0.0.0:0", functions: []fn{consumerFn}}
	file := cfg.write(t, tr, dir)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := nodeproc.Start(ctx, &nodeproc.Options{Binary: tr.rrnode, Config: file, Env: []string{"XDG_CACHE_HOME=" + filepath.Join(tr.dir, "cache")}})
	if err == nil {
		n.Stop()
		t.Fatal("a node listening on 0.0.0.0 without keys started")
	}
	for _, want := range []string{"node.listen.tcp", "rrnode keygen", "node.auth.keys", "insecure"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal does not name %q: %v", want, err)
		}
	}
	cfg.insecureTCP = true
	o := launch(t, tr, "open", cfg.write(t, tr, dir), launchOpts{})
	o.log.waitLine(t, 0, 10*time.Second, "level=WARN", "node.listen.tcp")
}
