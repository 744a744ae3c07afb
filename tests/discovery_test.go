package tests

// A cluster found through DNS: nodes in network namespaces on one bridge,
// a real DNS server (internal/testdns) serving the name they share, and
// two "hosts" of two nodes each. Every process here runs on one kernel,
// so one boot id: the test gives each pair of nodes its own host
// identity (transport.HostIDEnv), which is what a node compares to tell
// its host's peers from the others'. All four share the filesystem, so
// each could reach every unix socket: only the host identity keeps
// host B's nodes off host A's sockets, as it must.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/internal/netns"
	"github.com/roadrunner-wasm/roadrunner/internal/testdns"
	"github.com/roadrunner-wasm/roadrunner/node"
	"github.com/roadrunner-wasm/roadrunner/transport"
)

const clusterName = "peers.rr.test"

// clusterNode is one node of the discovery test.
type clusterNode struct {
	*rnode
	ns   *netns.NS
	addr netip.Addr
}

// directory fetches n's GET /v1/cluster.
func (n *clusterNode) directory(t *testing.T) node.ClusterView {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.URL()+"/v1/cluster", nil)
	resp, err := n.Client().Do(req)
	if err != nil {
		t.Fatalf("node %s: /v1/cluster: %v", n.name, err)
	}
	a := readAnswer(t, resp)
	var v node.ClusterView
	jsonDecode(t, a.body, &v)
	return v
}

// peer returns the peer named name in v, if any.
func peerIn(v node.ClusterView, name string) (node.PeerView, bool) {
	for _, p := range v.Peers {
		if p.Name == name {
			return p, true
		}
	}
	return node.PeerView{}, false
}

// waitDirectory waits until n's directory satisfies ok, and returns how
// long that took.
func (n *clusterNode) waitDirectory(t *testing.T, what string, ok func(node.ClusterView) bool) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(60 * time.Second)
	for {
		v := n.directory(t)
		if ok(v) {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			b, _ := json.MarshalIndent(v, "", "  ")
			t.Fatalf("node %s: never %s; directory:\n%s", n.name, what, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// upWith reports whether name is up in v over path.
func upWith(v node.ClusterView, name, path string) bool {
	p, ok := peerIn(v, name)
	return ok && p.State == node.StateUp && p.Path == path
}

func TestDiscoveryNetns(t *testing.T) {
	hub := netns.ForTest(t, "hub")
	tr := buildAll(t)
	br, err := netns.NewBridge(hub, "198.18.5.1/24")
	if err != nil {
		t.Fatal(err)
	}
	var dns *testdns.Server
	if err := hub.Do(func() error { dns = testdns.StartOn(t, "198.18.5.1:5353"); return nil }); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	socks := shortDir(t)
	keys := writeKeys(t, dir, "keys", transport.GenerateKey())
	hostA, hostB := "aaaaaaaa-0000-4000-8000-00000000000a", "bbbbbbbb-0000-4000-8000-00000000000b"
	cluster := fmt.Sprintf("cluster:\n  dns: %s\n  port: 7070\n  refresh: 500ms\n  resolver: 198.18.5.1:5353\n", clusterName)

	// Host A: n1 (producer), n2 (transform). Host B: n3 (transform,
	// consumer), n4 (consumer), started later.
	spec := []struct {
		name, host string
		fns        []fn
	}{
		{"n1", hostA, []fn{producerFn}},
		{"n2", hostA, []fn{transformFn}},
		{"n3", hostB, []fn{transformFn, consumerFn}},
		{"n4", hostB, []fn{consumerFn}},
		{"stranger", hostB, []fn{consumerFn}}, // with another key
	}
	nodes := make([]*clusterNode, len(spec))
	start := func(i int) *clusterNode {
		s := spec[i]
		ns := netns.ForTest(t, s.name)
		addr := netip.MustParseAddr(fmt.Sprintf("198.18.5.%d", 11+i))
		if err := br.Attach(ns, addr.String()+"/24"); err != nil {
			t.Fatal(err)
		}
		for j := range s.fns {
			s.fns[j].pool = 2
		}
		k := keys
		if s.name == "stranger" {
			k = writeKeys(t, dir, "other", transport.GenerateKey())
		}
		cfg := nodeConfig{name: s.name, listenTCP: addr.String() + ":7070", listenUnix: filepath.Join(socks, s.name+".sock"),
			keys: k, functions: s.fns, extra: cluster}.write(t, tr, dir)
		rn := launch(t, tr, s.name, cfg, launchOpts{ns: ns, env: []string{transport.HostIDEnv + "=" + s.host}})
		n := &clusterNode{rnode: rn, ns: ns, addr: addr}
		nodes[i] = n
		return n
	}
	dns.Set(clusterName, netip.MustParseAddr("198.18.5.11"), netip.MustParseAddr("198.18.5.12"), netip.MustParseAddr("198.18.5.13"))
	n1, n2, n3 := start(0), start(1), start(2)

	// n1 reaches n2 (its host) over its unix socket, n3 (the other
	// host) over tcp; each knows what the others host.
	n1.waitDirectory(t, "saw n2 over unix and n3 over tcp", func(v node.ClusterView) bool {
		return upWith(v, "n2", "unix") && upWith(v, "n3", "tcp")
	})
	v := n1.directory(t)
	if p, _ := peerIn(v, "n1"); p.State != node.StateSelf || p.Address != "tcp://198.18.5.11:7070" {
		t.Errorf("n1 sees its own address as %+v, want self", p)
	}
	if p, _ := peerIn(v, "n2"); !p.SameHost || strings.Join(p.Functions, ",") != "transform" {
		t.Errorf("n1 sees n2 as %+v", p)
	}
	if p, _ := peerIn(v, "n3"); p.SameHost || strings.Join(p.Functions, ",") != "transform,consumer" {
		t.Errorf("n1 sees n3 as %+v", p)
	}
	n2.waitDirectory(t, "saw n3 over tcp", func(v node.ClusterView) bool { return upWith(v, "n3", "tcp") })
	n3.waitDirectory(t, "saw n1 and n2 over tcp", func(v node.ClusterView) bool {
		return upWith(v, "n1", "tcp") && upWith(v, "n2", "tcp")
	})

	// The pipeline over the nearest paths: producer (n1) -> transform
	// on n2 over unix (n3's replica is on the other host) -> consumer on
	// n3 over tcp. The trace shows each hop and the node that made it.
	for _, size := range []int{1 << 20, 64 << 20} {
		payload := pattern(size)
		before := []metrics{n1.metrics(t), n2.metrics(t), n3.metrics(t)}
		began := time.Now()
		a := n1.invoke(t, "producer", payload)
		took := time.Since(began)
		checkHops(t, a, payload, "unix", "tcp", 3)
		if a.trace[2].Node != "n2" {
			t.Errorf("hop 2 made by %q, want n2", a.trace[2].Node)
		}
		after := []metrics{n1.metrics(t), n2.metrics(t), n3.metrics(t)}
		grew := func(i int, labels string) float64 {
			return after[i].get("rr_transfers_total", labels) - before[i].get("rr_transfers_total", labels)
		}
		if g := grew(0, `path="unix",result="ok"`); g != 1 {
			t.Errorf("%d B: n1 sent %v transfers over unix, want 1", size, g)
		}
		if g := grew(1, `path="tcp",result="ok"`); g != 1 {
			t.Errorf("%d B: n2 sent %v over tcp, want 1", size, g)
		}
		if g := grew(2, `path="tcp",result="ok"`); g != 1 {
			t.Errorf("%d B: n3 received %v over tcp, want 1", size, g)
		}
		t.Logf("pipeline %d MiB: n1 -unix-> n2 -tcp-> n3 in %v (hops: %v)", size>>20, took.Round(time.Millisecond), hopPaths(a.trace))
	}

	// A node added to DNS is used within refresh.
	n4 := start(3)
	dns.Set(clusterName, netip.MustParseAddr("198.18.5.11"), netip.MustParseAddr("198.18.5.12"), netip.MustParseAddr("198.18.5.13"), netip.MustParseAddr("198.18.5.14"))
	added := time.Now()
	n2.waitDirectory(t, "saw n4", func(v node.ClusterView) bool { return upWith(v, "n4", "tcp") })
	t.Logf("n4 in n2's directory %v after its DNS record appeared (refresh 500ms)", time.Since(added).Round(time.Millisecond))
	small := pattern(4 << 10)
	received := func(n *clusterNode) float64 {
		return n.metrics(t).get("rr_invocations_total", `function="consumer",result="ok"`)
	}
	r3, r4 := received(n3), received(n4)
	for range 20 {
		checkHops(t, n1.invoke(t, "producer", small), small, "unix", "tcp", 3)
	}
	d3, d4 := received(n3)-r3, received(n4)-r4
	if d3+d4 != 20 || d4 == 0 || d3 == 0 {
		t.Errorf("of 20 consumer calls, n3 took %v and n4 %v: want both some (power of two choices)", d3, d4)
	}

	// A node removed from DNS takes no new transfers.
	dns.Set(clusterName, netip.MustParseAddr("198.18.5.11"), netip.MustParseAddr("198.18.5.12"), netip.MustParseAddr("198.18.5.14"))
	n2.waitDirectory(t, "dropped n3", func(v node.ClusterView) bool { _, ok := peerIn(v, "n3"); return !ok })
	n1.waitDirectory(t, "dropped n3", func(v node.ClusterView) bool { _, ok := peerIn(v, "n3"); return !ok })
	r3, r4 = received(n3), received(n4)
	for range 10 {
		checkHops(t, n1.invoke(t, "producer", small), small, "unix", "tcp", 3)
	}
	if d3, d4 := received(n3)-r3, received(n4)-r4; d3 != 0 || d4 != 10 {
		t.Errorf("after n3 left DNS: n3 took %v consumer calls and n4 %v, want 0 and 10", d3, d4)
	}

	// A node without the key behind the name never joins: it stays down
	// with its reason, counted, and takes no transfer.
	stranger := start(4)
	dns.Set(clusterName, netip.MustParseAddr("198.18.5.11"), netip.MustParseAddr("198.18.5.12"), netip.MustParseAddr("198.18.5.14"), stranger.addr)
	authFailed := func() float64 { return n2.metrics(t).get("rr_dial_failures_total", `reason="auth"`) }
	waitForCond(t, 30*time.Second, "n2 counted the stranger's failed HELLO", func() bool { return authFailed() > 0 })
	if p, ok := peerIn(n2.directory(t), ""); ok && p.State == node.StateUp {
		t.Errorf("n2 has an unnamed peer up: %+v", p)
	}
	for _, p := range n2.directory(t).Peers {
		if p.Address == "tcp://"+stranger.addr.String()+":7070" && (p.State != node.StateDown || p.Name != "" || len(p.Functions) != 0) {
			t.Errorf("n2 sees the stranger as %+v: want down, nameless, hosting nothing", p)
		}
	}
	rs := received(stranger)
	for range 5 {
		checkHops(t, n1.invoke(t, "producer", small), small, "unix", "tcp", 3)
	}
	if got := received(stranger) - rs; got != 0 {
		t.Errorf("the stranger's consumer ran %v times", got)
	}

	// n3 back; then n4 killed with SIGKILL under load: its share moves to
	// n3, no delivery is corrupted, the failures are few and brief.
	dns.Set(clusterName, netip.MustParseAddr("198.18.5.11"), netip.MustParseAddr("198.18.5.12"), netip.MustParseAddr("198.18.5.13"), netip.MustParseAddr("198.18.5.14"))
	n2.waitDirectory(t, "saw n3 again", func(v node.ClusterView) bool { return upWith(v, "n3", "tcp") })
	killLoad(t, n1, n2, n4, small)

	// The DNS server stops: the directory stays, traffic goes on, the
	// failure is counted.
	dns.Stop()
	stopped := n2.metrics(t).get("rr_cluster_dns_lookups_total", `result="error"`)
	waitForCond(t, 30*time.Second, "n2 counted a failed lookup", func() bool {
		return n2.metrics(t).get("rr_cluster_dns_lookups_total", `result="error"`) > stopped
	})
	if v := n2.directory(t); !upWith(v, "n3", "tcp") || v.DNS.LastError == "" {
		t.Errorf("n2's directory with DNS down: %+v", v)
	}
	for range 5 {
		checkHops(t, n1.invoke(t, "producer", small), small, "unix", "tcp", 3)
	}
	if err := hub.Do(func() error { dns.Resume(); return nil }); err != nil {
		t.Fatal(err)
	}
	resumed := n2.metrics(t).get("rr_cluster_dns_lookups_total", `result="ok"`)
	waitForCond(t, 30*time.Second, "n2 resolved again", func() bool {
		return n2.metrics(t).get("rr_cluster_dns_lookups_total", `result="ok"`) > resumed
	})
}

// killLoad runs the pipeline from n1 on two goroutines, kills victim (a
// consumer replica) with SIGKILL in the middle, and checks what the
// callers saw: every 200 verified, failures counted and bounded, traffic
// all good again soon after.
func killLoad(t *testing.T, n1, n2, victim *clusterNode, payload []byte) {
	t.Helper()
	var ok, failed atomic.Int64
	var lastFail atomic.Int64 // unix nanoseconds
	var bad sync.Map
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := n1.Client()
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				a := n1.invokeWith(t, client, "producer", payload)
				if a.status != http.StatusOK {
					failed.Add(1)
					lastFail.Store(time.Now().UnixNano())
					continue
				}
				r := a.report(t)
				if !r.Verified || r.Bytes != uint64(len(payload)) {
					bad.Store(r, true)
				}
				ok.Add(1)
			}
		})
	}
	waitForCond(t, 30*time.Second, "load under way", func() bool { return ok.Load() >= 20 })
	killed := time.Now()
	if err := victim.Kill(); err != nil {
		t.Fatal(err)
	}
	// Run until 50 more have gone through after the kill.
	okAtKill := ok.Load()
	waitForCond(t, 60*time.Second, "50 invocations after the kill", func() bool { return ok.Load() >= okAtKill+50 })
	close(stop)
	wg.Wait()
	bad.Range(func(k, _ any) bool { t.Errorf("a corrupted delivery: %+v", k); return true })
	f := failed.Load()
	window := time.Duration(0)
	if l := lastFail.Load(); l != 0 {
		window = time.Unix(0, l).Sub(killed)
	}
	t.Logf("n4 killed under load: %d invocations failed, the last %v after the kill; %d succeeded in all", f, window.Round(time.Millisecond), ok.Load())
	// Two callers: at most the two transfers in flight to n4 fail (a send
	// that may have reached a peer is not retried); the rest move to n3.
	if f > 2 {
		t.Errorf("%d invocations failed after the kill, want at most 2 (those in flight to n4)", f)
	}
	v := n2.directory(t)
	if p, ok := peerIn(v, victim.name); !ok || p.State != node.StateDown || p.LastError == "" {
		t.Errorf("n2's directory shows the killed %s as %+v, want down with its error", victim.name, p)
	}
	m := n2.metrics(t)
	if m.sum("rr_dial_failures_total") == 0 {
		t.Errorf("n2 counted no dial failure after %s was killed", victim.name)
	}
}

// hopPaths lists a trace's hops as from->to/path@node.
func hopPaths(tr []hop) []string {
	var s []string
	for _, h := range tr {
		s = append(s, fmt.Sprintf("%s->%s/%s@%s", h.From, h.To, h.Path, h.Node))
	}
	return slices.Clip(s)
}

// waitForCond polls cond until it holds, or fails t after timeout.
func waitForCond(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s (%v)", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
