package tests

// rrnode processes in separate network namespaces joined by veth pairs
// (198.18.0.0/15), over the tcp path: the pipeline with each send
// mechanism, and a chain of three nodes. The namespaces and veths are made
// and removed by the tests (internal/netns); without root the tests skip,
// or fail under RR_REQUIRE_PRIVILEGED=1.

import (
	"net/netip"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/internal/netns"
)

// veth joins a and b, failing t.
func veth(t *testing.T, a *netns.NS, aAddr string, b *netns.NS, bAddr string) {
	t.Helper()
	if err := netns.Veth(a, aAddr, b, bAddr); err != nil {
		t.Fatal(err)
	}
}

// Node a (producer) in one namespace, node b (transform, consumer) in
// another, listening on its end of the veth; a sends with each mechanism.
func TestTCPPipelineNetns(t *testing.T) {
	nsA, nsB := netns.ForTest(t, "tcp-a"), netns.ForTest(t, "tcp-b")
	tr := buildAll(t)
	veth(t, nsA, "198.18.0.1/24", nsB, "198.18.0.2/24")
	dir := t.TempDir()
	b := launch(t, tr, "b", nodeConfig{name: "b", listenTCP: "198.18.0.2:7070", insecureTCP: true, functions: []fn{transformFn, consumerFn}}.write(t, tr, dir), launchOpts{ns: nsB})
	if got := b.listenAddr(t, "tcp"); got != "198.18.0.2:7070" {
		t.Errorf("b listens on %s", got)
	}
	aConfig := nodeConfig{
		name:      "a",
		functions: []fn{producerFn},
		peers:     []peer{{name: "b", address: "tcp://198.18.0.2:7070", functions: []string{"transform", "consumer"}}},
	}.write(t, tr, dir)

	// 256 MiB costs the example guests some 15 s (their CRC32C and
	// scrambling in Wasm): it goes with splice only, the mechanism with
	// the most to get wrong at size (pipe-sized chunks of a payload in
	// guest pages); the unix test sends it too.
	for _, c := range []struct {
		mech  string
		sizes []int
	}{
		{"write", remoteSizes[:4]},
		{"splice", remoteSizes},
		{"auto", remoteSizes[:4]},
	} {
		mech := c.mech
		t.Run(mech, func(t *testing.T) {
			var args []string
			if mech != "auto" {
				args = []string{"--tcp-send", mech}
			}
			a := launch(t, tr, "a "+mech, aConfig, launchOpts{ns: nsA, args: args})
			before := a.metrics(t)
			runPipeline(t, a, c.sizes, "tcp", "memory")
			after := a.metrics(t)
			if got := after.get("rr_transfers_total", `path="tcp",result="ok"`) - before.get("rr_transfers_total", `path="tcp",result="ok"`); got != float64(len(c.sizes)) {
				t.Errorf(`a: rr_transfers_total{path="tcp",result="ok"} grew by %v, want %d`, got, len(c.sizes))
			}
			if got := after.sum("rr_fallbacks_total"); got != 0 {
				t.Errorf("a: rr_fallbacks_total %v, want 0 (nothing refuses splice here)", got)
			}
			// What carried each transfer: splice with splice (the
			// producer's message header makes every payload non-empty);
			// write otherwise (auto chooses it on a veth).
			carried := map[string]float64{"write": float64(len(c.sizes)), "splice": 0}
			if mech == "splice" {
				carried = map[string]float64{"write": 0, "splice": float64(len(c.sizes))}
			}
			for m, want := range carried {
				label := `mechanism="` + m + `",path="tcp",result="ok"`
				if got := after.get("rr_transfers_total", label) - before.get("rr_transfers_total", label); got != want {
					t.Errorf("a: rr_transfers_total{%s} grew by %v, want %v", label, got, want)
				}
			}
			if got := after.sum("rr_tcp_mechanism", `peer="b"`); got != 1 {
				t.Errorf(`a: rr_tcp_mechanism{peer="b"} sums to %v, want one current mechanism`, got)
			}
			if mech != "auto" {
				if got := after.get("rr_tcp_mechanism", `mechanism="`+mech+`",peer="b"`); got != 1 {
					t.Errorf(`a: rr_tcp_mechanism{mechanism=%q,peer="b"} = %v, want 1`, mech, got)
				}
			} else {
				autoChoosesWrite(t, a)
			}
			smallIsPrompt(t, a, b, "198.18.0.2:7070")
		})
	}
}

// autoChoosesWrite checks auto's rule on a veth pair: the link is
// virtual, so the peer's mechanism is settled at write on its first
// connection (splice was measured costlier where the receiver shares the
// machine), and the metrics and the log say so and why.
func autoChoosesWrite(t *testing.T, a *rnode) {
	t.Helper()
	payload := pattern(1 << 20)
	checkRemotePipeline(t, a.invoke(t, "producer", payload), payload, "tcp", "memory")
	m := a.metrics(t)
	if m.get("rr_tcp_mechanism", `mechanism="write",peer="b"`) != 1 || m.get("rr_tcp_mechanism", `mechanism="splice",peer="b"`) != 0 {
		t.Fatalf("rr_tcp_mechanism for b: write %v, splice %v; want write on a veth link",
			m.get("rr_tcp_mechanism", `mechanism="write",peer="b"`), m.get("rr_tcp_mechanism", `mechanism="splice",peer="b"`))
	}
	line := a.log.waitLine(t, 0, 5*time.Second, "send mechanism chosen", "mechanism=write", "virtual link")
	t.Logf("auto: %s", line)
}

// smallIsPrompt checks that a tiny transfer is not held back on the way
// (Nagle's algorithm against a delayed ACK, or a corked last segment, cost
// 40 to 200 ms), by its causes rather than by a clock: after nine one-byte
// pipeline runs, each verified, every connection between a and b, at both
// ends (the sender's DATA frames, the receiver's ACK and REPLY frames), has
// TCP_NODELAY set and TCP_CORK clear. Speed is left to the benchmarks.
func smallIsPrompt(t *testing.T, a, b *rnode, bAddr string) {
	t.Helper()
	payload := pattern(1)
	for range 9 {
		checkRemotePipeline(t, a.invoke(t, "producer", payload), payload, "tcp", "memory")
	}
	listen := netip.MustParseAddrPort(bAddr)
	for _, end := range []struct {
		n    *rnode
		side string
		is   func(s tcpSocket) bool
	}{
		{a, "a's connections to b", func(s tcpSocket) bool { return s.peer == listen }},
		{b, "b's connections from a", func(s tcpSocket) bool { return s.local == listen && s.peer.IsValid() }},
	} {
		var conns []tcpSocket
		for _, s := range tcpSockets(t, end.n.PID()) {
			if end.is(s) {
				conns = append(conns, s)
			}
		}
		if len(conns) == 0 {
			t.Errorf("%s: none found", end.side)
		}
		for _, s := range conns {
			if !s.nodelay || s.cork {
				t.Errorf("%s: %v → %v has TCP_NODELAY %v, TCP_CORK %v; want small frames sent at once (nodelay, no cork)", end.side, s.local, s.peer, s.nodelay, s.cork)
			}
		}
	}
}

// A → B → C across three namespaces: the producer on a, the transform on
// b, the consumer on c; b has c as its peer. The consumer's verdict
// travels back through b to a.
func TestTCPChainNetns(t *testing.T) {
	nsA, nsB, nsC := netns.ForTest(t, "chain-a"), netns.ForTest(t, "chain-b"), netns.ForTest(t, "chain-c")
	tr := buildAll(t)
	veth(t, nsA, "198.18.1.1/24", nsB, "198.18.1.2/24")
	veth(t, nsB, "198.18.2.1/24", nsC, "198.18.2.2/24")
	dir := t.TempDir()
	c := launch(t, tr, "c", nodeConfig{name: "c", listenTCP: "198.18.2.2:7070", insecureTCP: true, functions: []fn{consumerFn}}.write(t, tr, dir), launchOpts{ns: nsC})
	b := launch(t, tr, "b", nodeConfig{
		name:        "b",
		listenTCP:   "198.18.1.2:7070",
		insecureTCP: true,
		functions:   []fn{transformFn},
		peers:       []peer{{name: "c", address: "tcp://198.18.2.2:7070", functions: []string{"consumer"}}},
	}.write(t, tr, dir), launchOpts{ns: nsB})
	a := launch(t, tr, "a", nodeConfig{
		name:      "a",
		functions: []fn{producerFn},
		peers:     []peer{{name: "b", address: "tcp://198.18.1.2:7070", functions: []string{"transform"}}},
	}.write(t, tr, dir), launchOpts{ns: nsA})

	runPipeline(t, a, remoteSizes[:4], "tcp", "tcp")

	k := float64(len(remoteSizes[:4]))
	ok := `path="tcp",result="ok"`
	if got := a.metrics(t).get("rr_transfers_total", ok); got != k {
		t.Errorf("a: rr_transfers_total{%s} = %v, want %v", ok, got, k)
	}
	bm := b.metrics(t)
	// b's sends to c; a receiver may count what it received too.
	if got := bm.get("rr_transfers_total", ok); got != k && got != 2*k {
		t.Errorf("b: rr_transfers_total{%s} = %v, want %v (its sends) or %v (and a's)", ok, got, k, 2*k)
	}
	if got := bm.get("rr_invocations_total", `function="transform",result="ok"`); got != k {
		t.Errorf("b: transform ok %v times, want %v", got, k)
	}
	if got := c.metrics(t).get("rr_invocations_total", `function="consumer",result="ok"`); got != k {
		t.Errorf("c: consumer ok %v times, want %v", got, k)
	}
}
