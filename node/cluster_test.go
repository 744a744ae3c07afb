package node_test

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/internal/testdns"
	"github.com/roadrunner-wasm/roadrunner/node"
	"github.com/roadrunner-wasm/roadrunner/runtime"
	"github.com/roadrunner-wasm/roadrunner/transport"
)

// serveUnix opens n's listeners and serves its unix path.
func serveUnix(t *testing.T, n *testNode) {
	t.Helper()
	lns, err := n.Listen(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	go n.ServeTransport(transport.PathUnix, lns[transport.PathUnix])
}

// TestClusterCycle: a chain that bounces between two nodes (A's ping sends
// to B's pong, which sends to A's ping, …) is cut at max_depth, counted
// across both nodes, and the caller's trace lists every hop, each remote
// one with the node that made it.
func TestClusterCycle(t *testing.T) {
	dir := t.TempDir()
	sockA, sockB := filepath.Join(dir, "a.sock"), filepath.Join(dir, "b.sock")
	cfg := func(name, fn, sock, peer, peerSock, peerFn string) string {
		return fmt.Sprintf(`
node:
  name: %s
  max_depth: 6
  invocation_timeout: 60s
  cache_dir: {{cache}}
  listen: {unix: %s}
functions:
  - {name: %s, module: {{relay}}, pool: 4}
peers:
  - {name: %s, address: 'unix://%s', functions: [%s]}
`, name, sock, fn, peer, peerSock, peerFn)
	}
	a := startNode(t, cfg("a", "ping", sockA, "b", sockB, "pong"), nil)
	b := startNode(t, cfg("b", "pong", sockB, "a", sockA, "ping"), nil)
	serveUnix(t, a)
	serveUnix(t, b)

	r := a.invoke(t, "ping", []byte("bounce 100 pong ping"))
	busy := fmt.Sprint(int32(runtime.CodeBusy))
	if r.status != 200 || string(r.body) != "depth-error "+busy {
		t.Fatalf("status %d, body %q: want 200 and depth-error %s (the chain cut at max_depth 6)", r.status, r.body, busy)
	}
	tr := r.trace(t)
	// The ingress, then ping -> pong -> ping -> pong -> ping -> pong, the
	// last refused: six hops from five functions, alternating nodes.
	if len(tr) != 7 {
		t.Fatalf("trace of %d hops, want 7: %+v", len(tr), tr)
	}
	for i, h := range tr[1:] {
		// A hop is made by the node of its sender: ping's by a, pong's
		// by b.
		from, to, made := "ping", "pong", "a"
		if i%2 == 1 {
			from, to, made = "pong", "ping", "b"
		}
		if i == 0 {
			made = "" // a's own hop
		}
		result := "ok"
		if i == 5 {
			result = "busy"
		}
		if h.From != from || h.To != to || h.Path != "unix" || h.Node != made || h.Result != result {
			t.Errorf("hop %d: %+v, want %s -> %s over unix made by %q, %s", i+1, h, from, to, made, result)
		}
	}
	// The refusal happened on a's arrival: a reported its cause, which
	// is on b's hop that failed.
	if h := tr[6]; !strings.Contains(h.Error, "max_depth") {
		t.Errorf("the refused hop's error = %q, want a's cause (max_depth)", h.Error)
	}
	for i, h := range tr[:6] {
		if h.Error != "" {
			t.Errorf("hop %d has an error though it succeeded: %q", i, h.Error)
		}
	}
	if got := a.metric(t, `rr_invocations_total{function="ping",result="busy"}`); got != 1 {
		t.Errorf("a refused %v deliveries as too deep, want 1", got)
	}
}

// TestReplicas: a function two peers host takes sends on both (power of
// two choices); when one stops, its sends move to the other without a
// failure (a send that never left is tried once on another replica), and
// the directory shows it down with its error.
func TestReplicas(t *testing.T) {
	dir := t.TempDir()
	back := func(name string) *testNode {
		n := startNode(t, fmt.Sprintf(`
node:
  name: %s
  cache_dir: {{cache}}
  listen: {unix: %s}
functions:
  - {name: counter, module: {{counter}}, pool: 2}
`, name, filepath.Join(dir, name+".sock")), nil)
		serveUnix(t, n)
		return n
	}
	b1, b2 := back("b1"), back("b2")
	front := startNode(t, fmt.Sprintf(`
node:
  name: front
  cache_dir: {{cache}}
functions:
  - {name: relay, module: {{relay}}, pool: 2}
peers:
  - {name: b1, address: 'unix://%s', functions: [counter]}
  - {name: b2, address: 'unix://%s', functions: [counter]}
`, filepath.Join(dir, "b1.sock"), filepath.Join(dir, "b2.sock")), nil)

	const sends = 40
	count := func(n *testNode) float64 {
		return max(0, n.metric(t, `rr_invocations_total{function="counter",result="ok"}`))
	}
	r := front.invoke(t, "relay", []byte(fmt.Sprintf("repeat %d counter\nhi", sends)))
	if r.status != 204 && r.status != 200 {
		t.Fatalf("status %d, body %q", r.status, r.body)
	}
	n1, n2 := count(b1), count(b2)
	if n1+n2 != sends || n1 == 0 || n2 == 0 {
		t.Fatalf("b1 took %v sends, b2 %v: want %d between them, some on each", n1, n2, sends)
	}

	// b2 stops: every send goes to b1, none fails.
	ctx, cancel := context.WithTimeout(context.Background(), 30e9)
	defer cancel()
	if err := b2.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	r = front.invoke(t, "relay", []byte(fmt.Sprintf("repeat %d counter\nhi", sends)))
	if r.status != 204 && r.status != 200 {
		t.Fatalf("after b2 stopped: status %d, body %q", r.status, r.body)
	}
	if got := count(b1); got != n1+sends {
		t.Errorf("b1 took %v sends after b2 stopped, want %v", got-n1, sends)
	}
	if got := front.metric(t, "rr_route_retries_total"); got < 1 {
		t.Errorf("rr_route_retries_total = %v, want at least 1 (b2's first failure tried on b1)", got)
	}
	if got := front.metric(t, `rr_dial_failures_total{path="unix",reason="refused"}`); got < 1 {
		t.Errorf(`rr_dial_failures_total{path="unix",reason="refused"} = %v, want at least 1`, got)
	}
	v := front.Cluster()
	var states []string
	for _, p := range v.Peers {
		states = append(states, p.Name+"="+p.State)
		if p.Name == "b2" && (p.State != node.StateDown || !strings.Contains(p.LastError, "b2.sock")) {
			t.Errorf("b2 in the directory: %+v, want down with its error", p)
		}
	}
	if strings.Join(states, ",") != "b1=up,b2=down" {
		t.Errorf("directory states %v, want b1 up and b2 down", states)
	}
}

// TestDirectoryPush: two nodes that found each other through a real DNS
// server; when one changes its function list, the other knows at once
// (the push, not the next heartbeat: refresh is a minute), and routes by
// the new list. A node also knows its own address in the answer.
func TestDirectoryPush(t *testing.T) {
	dns := testdns.Start(t)
	dns.Set("rr.test", netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3"))
	port := freePort(t, "127.0.0.2", "127.0.0.3")
	cfg := func(name, ip string) string {
		return fmt.Sprintf(`
node:
  name: %s
  cache_dir: {{cache}}
  listen: {tcp: '%s:%d'}
functions:
  - {name: %s-echo, module: {{echo}}, pool: 1}
cluster: {dns: rr.test, port: %d, resolver: '%s', refresh: 1m}
`, name, ip, port, name, port, dns.Addr())
	}
	serve := func(n *testNode) {
		lns, err := n.Listen(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		go n.ServeTransport(transport.PathTCP, lns[transport.PathTCP])
	}
	a := startNode(t, cfg("a", "127.0.0.2"), nil)
	serve(a)
	b := startNode(t, cfg("b", "127.0.0.3"), nil)
	serve(b)
	// b found a at its start; a found b (refused at first if b was not
	// listening yet: backoff) and both see each other up.
	waitFor(t, func() bool { return upIn(a.Cluster(), "b") && upIn(b.Cluster(), "a") }, "a and b up in each other's directory")
	for _, n := range []*testNode{a, b} {
		var self int
		for _, p := range n.Cluster().Peers {
			if p.State == node.StateSelf {
				self++
			}
		}
		if self != 1 {
			t.Errorf("%s: %d of its peers are itself, want its own address once: %+v", n.Name(), self, n.Cluster().Peers)
		}
	}

	node.AnnounceFunctions(a.Node, []string{"a-echo", "a-new"})
	v := b.Cluster()
	for _, p := range v.Peers {
		if p.Name == "a" && (p.Generation != 2 || strings.Join(p.Functions, ",") != "a-echo,a-new") {
			t.Errorf("b sees a as %+v after a's push, want generation 2 with a-new", p)
		}
	}
	if g := a.Cluster().Generation; g != 2 {
		t.Errorf("a's own generation %d, want 2", g)
	}
}

func upIn(v node.ClusterView, name string) bool {
	for _, p := range v.Peers {
		if p.Name == name && p.State == node.StateUp {
			return true
		}
	}
	return false
}

// waitFor polls cond until it holds, or fails t after 30 s.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestUnixOtherNode: a peer of this host names a unix socket at which
// another node answers (the peer's own listener is gone, another took
// the path): the node behind the socket does not prove to be the peer, so
// the peer is reached over tcp, and the mismatch is logged.
func TestUnixOtherNode(t *testing.T) {
	dns := testdns.Start(t)
	dns.Set("rr.test", netip.MustParseAddr("127.0.0.4"))
	port := freePort(t, "127.0.0.4")
	sock := filepath.Join(t.TempDir(), "b.sock")
	b := startNode(t, fmt.Sprintf(`
node:
  name: b
  cache_dir: {{cache}}
  listen: {tcp: '127.0.0.4:%d', unix: %s}
functions:
  - {name: echo, module: {{echo}}, pool: 1}
`, port, sock), nil)
	lns, err := b.Listen(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	go b.ServeTransport(transport.PathTCP, lns[transport.PathTCP])
	lns[transport.PathUnix].Close() // b's socket is gone...
	c := startNode(t, fmt.Sprintf(`
node:
  name: c
  cache_dir: {{cache}}
  listen: {unix: %s}
functions:
  - {name: echo, module: {{echo}}, pool: 1}
`, sock), nil)
	serveUnix(t, c) // ...and c answers at its path.
	front := startNode(t, fmt.Sprintf(`
node:
  name: front
  cache_dir: {{cache}}
functions:
  - {name: relay, module: {{relay}}, pool: 1}
cluster: {dns: rr.test, port: %d, resolver: '%s', refresh: 200ms}
`, port, dns.Addr()), nil)
	waitFor(t, func() bool { return upIn(front.Cluster(), "b") }, "b up in front's directory")
	for _, p := range front.Cluster().Peers {
		if p.Name == "b" && (p.Path != "tcp" || !p.SameHost) {
			t.Errorf("front reaches b as %+v, want tcp: the socket b named answers as c", p)
		}
	}
	if !strings.Contains(front.logs.String(), "answers as another node") {
		t.Errorf("front did not log the socket answering as another node:\n%s", front.logs)
	}
	r := front.invoke(t, "relay", []byte("send echo\nhi"))
	if r.status != 200 || string(r.body) != "hi" { // echo's reply is the invocation's first
		t.Fatalf("relay to b's echo: %d %q", r.status, r.body)
	}
	if got := b.metric(t, `rr_invocations_total{function="echo",result="ok"}`); got != 1 {
		t.Errorf("b's echo ran %v times, want 1 (c's never)", got)
	}
}

// TestCanceledSendKeepsPeerUp: a remote send cut short by its own
// invocation's deadline says nothing of the peer, which stays up and is
// tried at once by the next send.
func TestCanceledSendKeepsPeerUp(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "b.sock")
	b := startNode(t, fmt.Sprintf(`
node:
  name: b
  cache_dir: {{cache}}
  invocation_timeout: 3s
  listen: {unix: %s}
functions:
  - {name: brelay, module: {{relay}}, pool: 1}
  - {name: counter, module: {{counter}}, pool: 1}
`, sock), nil)
	serveUnix(t, b)
	front := startNode(t, fmt.Sprintf(`
node:
  name: front
  cache_dir: {{cache}}
  invocation_timeout: 300ms
functions:
  - {name: relay, module: {{relay}}, pool: 1}
peers:
  - {name: b, address: 'unix://%s', functions: [brelay, counter]}
`, sock), nil)
	// b's brelay outlasts front's deadline: a million local sends.
	r := front.invoke(t, "relay", []byte("forward brelay\nrepeat 1000000 counter\nx"))
	if r.status != 504 {
		t.Fatalf("status %d, body %q: want 504, the invocation's deadline", r.status, r.body)
	}
	for _, p := range front.Cluster().Peers {
		if p.Name == "b" && p.State != node.StateUp {
			t.Errorf("b after a send its invocation canceled: %+v, want up", p)
		}
	}
}
