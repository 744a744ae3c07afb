package node_test

import (
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/runtime"
	"github.com/roadrunner-wasm/roadrunner/transport"
)

// badAllocModule is a guest whose rr_alloc returns 0x7fff0000 whatever the
// size, far outside its one page of memory; rr_handle returns 0. Built by
// hand: a type, function, memory, export and code section, no imports; a reactor (_initialize).
const badAllocModule = "0061736d01000000010f0360017f017f60027f7f017f6000000304030001020503010001072f04066d656d6f727902000872725f616c6c6f6300000972725f68616e646c6500010b5f696e697469616c697a6500020a12030800418080fcff070b040041000b02000b"

func writeBadAlloc(t *testing.T) string {
	t.Helper()
	b, err := hex.DecodeString(badAllocModule)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "badalloc.wasm")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestErrorBadAlloc: a guest whose rr_alloc returns a range outside its
// memory fails its delivery; the error body names it and the host's cause,
// reached directly and several sends down.
func TestErrorBadAlloc(t *testing.T) {
	bad := writeBadAlloc(t)
	n := startNode(t, testConfig+"  - {name: bad, module: "+bad+", pool: 1}\n", nil)

	r := n.invoke(t, "bad", []byte("payload"))
	e := r.errorBody(t)
	if r.status != 500 || e.Label != "alloc_failed" || e.Function != "bad" || e.From != "http" || e.Path != "http" ||
		!strings.Contains(e.Cause, "rr_alloc returned [0x7fff0000, +7) outside guest memory") {
		t.Errorf("direct: status %d, body %+v", r.status, e)
	}

	r = n.invoke(t, "relay", []byte("forward relay\nforward bad\npayload"))
	e = r.errorBody(t)
	if r.status != 500 || e.Label != "receiver_failed" || e.Function != "bad" || e.From != "relay" || e.Path != "memory" ||
		!strings.Contains(e.Cause, "outside guest memory") || !strings.Contains(e.Error, "function relay: rr_handle returned 1") {
		t.Errorf("two sends down: status %d, body %+v, want the deepest hop (relay -> bad) and rr_alloc's cause", r.status, e)
	}
	// The trace marks that hop only.
	var marked int
	for _, h := range r.trace(t) {
		if h.Error != "" {
			marked++
			if h.To != "bad" {
				t.Errorf("hop %+v has the error, want relay -> bad", h)
			}
		}
	}
	if marked != 1 {
		t.Errorf("%d hops carry an error, want 1: %+v", marked, r.trace(t))
	}
	// A success afterwards carries none.
	if r := n.invoke(t, "relay", []byte("forward echo\nok")); r.status != 200 || len(r.trace(t)) != 2 || r.trace(t)[1].Error != "" {
		t.Errorf("success after a failure: status %d, trace %+v", r.status, r.trace(t))
	}
}

// TestErrorPeerDown: a send to a peer that is down (nothing listening on
// its tcp port, no socket at its unix path) fails with a body naming the
// hop and the dial's error; the dial failure is counted with its reason
// and logged.
func TestErrorPeerDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := l.Addr().String()
	l.Close()
	gone := filepath.Join(t.TempDir(), "gone.sock")
	n := startNode(t, testConfig+fmt.Sprintf(`peers:
  - {name: far, address: 'tcp://%s', functions: [faraway]}
  - {name: near, address: 'unix://%s', functions: [nearby]}
`, down, gone), nil)
	for _, c := range []struct{ fn, path, cause string }{
		{"faraway", "tcp", "dial tcp " + down + ": connect: connection refused"},
		{"nearby", "unix", "no such file or directory"},
	} {
		r := n.invoke(t, "relay", []byte("forward "+c.fn+"\npayload"))
		e := r.errorBody(t)
		if r.status != 500 || e.Label != "receiver_failed" || e.Function != c.fn || e.From != "relay" || e.Path != c.path ||
			!strings.Contains(e.Cause, c.cause) || !strings.Contains(e.Cause, "transport") {
			t.Errorf("send to %s: status %d, body %+v, want the hop relay -> %s over %s and %q", c.fn, r.status, e, c.fn, c.path, c.cause)
		}
		if got := n.metric(t, fmt.Sprintf(`rr_dial_failures_total{path="%s",reason="refused"}`, c.path)); got != 1 {
			t.Errorf("rr_dial_failures_total{path=%s,reason=refused} = %v, want 1", c.path, got)
		}
	}
	logs := n.logs.String()
	for _, want := range []string{`"msg":"peer failed: marked down","peer_name":"far"`, `"msg":"peer failed: marked down","peer_name":"near"`, `"reason":"refused"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("no log line with %s:\n%s", want, logs)
		}
	}
}

// TestErrorRemoteCause: a guest failing on a peer node (its rr_alloc out
// of range) is named, with the peer's cause, in the body the origin node
// answers.
func TestErrorRemoteCause(t *testing.T) {
	bad := writeBadAlloc(t)
	dir := t.TempDir()
	sockB := filepath.Join(dir, "b.sock")
	b := startNode(t, fmt.Sprintf(`
node:
  name: b
  cache_dir: {{cache}}
  listen: {unix: %s}
functions:
  - {name: relay, module: {{relay}}, pool: 2}
  - {name: bad, module: %s, pool: 1}
`, sockB, bad), nil)
	serveUnix(t, b)
	a := startNode(t, fmt.Sprintf(`
node:
  name: a
  cache_dir: {{cache}}
functions:
  - {name: front, module: {{relay}}, pool: 2}
peers:
  - {name: b, address: 'unix://%s', functions: [relay, bad]}
`, sockB), nil)

	// front (a) -> bad (b): fails on its arrival at b.
	r := a.invoke(t, "front", []byte("forward bad\npayload"))
	e := r.errorBody(t)
	if r.status != 500 || e.Function != "bad" || e.From != "front" || e.Path != "unix" || e.Node != "a" || !strings.Contains(e.Cause, "outside guest memory") {
		t.Errorf("front -> bad on b: status %d, body %+v, want the hop front -> bad over unix and b's cause", r.status, e)
	}
	// front (a) -> relay (b) -> bad (b): the hop b made.
	r = a.invoke(t, "front", []byte("forward relay\nforward bad\npayload"))
	e = r.errorBody(t)
	if r.status != 500 || e.Function != "bad" || e.From != "relay" || e.Path != "memory" || e.Node != "b" || !strings.Contains(e.Cause, "outside guest memory") {
		t.Errorf("front -> relay -> bad on b: status %d, body %+v, want b's hop relay -> bad and its cause", r.status, e)
	}
}

// TestErrorBodies: the refusals of the first hop name the function; their
// error says it all, and they have no cause.
func TestErrorBodies(t *testing.T) {
	n := startNode(t, "", nil)
	for _, c := range []struct {
		fn      string
		payload []byte
		status  int
		label   string
	}{
		{"nosuch", []byte("x"), 404, "unknown_function"},
		{"counter", pattern(1025), 413, "too_large"},
	} {
		r := n.invoke(t, c.fn, c.payload)
		e := r.errorBody(t)
		if r.status != c.status || e.Label != c.label || e.Code != runtime.CodeOf(codeOfLabel(c.label)) || e.Function != c.fn || e.Path != "http" || e.Cause != "" || !strings.Contains(e.Error, c.fn) {
			t.Errorf("%s: status %d, body %+v", c.fn, r.status, e)
		}
	}
}

func codeOfLabel(label string) error {
	for c := runtime.Code(-1); c >= -12; c-- {
		if c.Label() == label {
			return c
		}
	}
	return nil
}

// TestErrorWrongKey: a peer that refuses this node's HELLO (another key)
// is named with the refusal's reason, counted and logged.
func TestErrorWrongKey(t *testing.T) {
	dir := t.TempDir()
	keyFile := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(transport.GenerateKey()+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sockB := filepath.Join(dir, "b.sock")
	b := startNode(t, fmt.Sprintf(`
node:
  name: b
  cache_dir: {{cache}}
  listen: {unix: %s}
  auth: {keys: %s}
functions:
  - {name: echo, module: {{echo}}, pool: 1}
`, sockB, keyFile("b.keys")), nil)
	serveUnix(t, b)
	a := startNode(t, fmt.Sprintf(`
node:
  name: a
  cache_dir: {{cache}}
  auth: {keys: %s}
functions:
  - {name: front, module: {{relay}}, pool: 1}
peers:
  - {name: b, address: 'unix://%s', functions: [echo]}
`, keyFile("a.keys"), sockB), nil)

	r := a.invoke(t, "front", []byte("forward echo\npayload"))
	e := r.errorBody(t)
	if r.status != 500 || e.Function != "echo" || e.Path != "unix" || !strings.Contains(e.Cause, "bad_mac") {
		t.Errorf("a send to a peer with another key: status %d, body %+v, want the hop front -> echo and bad_mac", r.status, e)
	}
	if got := a.metric(t, `rr_dial_failures_total{path="unix",reason="auth"}`); got != 1 {
		t.Errorf("a: rr_dial_failures_total{path=unix,reason=auth} = %v, want 1", got)
	}
	if got := a.metric(t, `rr_auth_failures_total{path="unix",reason="bad_mac"}`); got != 1 {
		t.Errorf("a: rr_auth_failures_total{path=unix,reason=bad_mac} = %v, want 1", got)
	}
	if logs := a.logs.String(); !strings.Contains(logs, `"msg":"peer failed: marked down","peer_name":"b"`) || !strings.Contains(logs, "bad_mac") {
		t.Errorf("a logged no refused HELLO:\n%s", logs)
	}
	t.Logf("cause: %s", e.Cause)
}
