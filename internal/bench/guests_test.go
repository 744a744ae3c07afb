package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/internal/bench/payload"
	"github.com/roadrunner-wasm/roadrunner/internal/wasmbuild"
	"github.com/roadrunner-wasm/roadrunner/node"
)

const examples = "github.com/roadrunner-wasm/roadrunner/examples/"

// guestNode starts a node in this process with the given functions
// (name: example package).
func guestNode(t *testing.T, fns map[string]string) *node.Node {
	t.Helper()
	cfg := "node:\n  max_payload: 64MiB\n  invocation_timeout: 5m\nfunctions:\n"
	for name, pkg := range fns {
		cfg += fmt.Sprintf("  - {name: %s, module: %q, pool: 1, interruptible: false}\n", name, wasmbuild.ForTest(t, examples+pkg))
	}
	file := filepath.Join(t.TempDir(), "node.yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := node.LoadConfig(file)
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.New(context.Background(), c, &node.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown(context.Background()) })
	return n
}

func invokeNode(n *node.Node, fn string, p []byte) ([]byte, error) {
	var reply bytes.Buffer
	_, err := n.Invoke(context.Background(), fn, uint64(len(p)), func(d []byte) error { copy(d, p); return nil }, &reply)
	return reply.Bytes(), err
}

// TestBenchGuests runs benchsrc and benchsink on the memory path and checks
// what they report, then hands benchsink a corrupt payload, a replayed one
// and a truncated one directly: each must fail.
func TestBenchGuests(t *testing.T) {
	n := guestNode(t, map[string]string{"src0": "benchsrc", "sink0": "benchsink"})
	reply, err := invokeNode(n, "src0", []byte(`{"to":"sink0","size":100000,"count":5,"seq":10}`))
	if err != nil {
		t.Fatal(err)
	}
	var src struct {
		SendNS []int64 `json:"send_ns"`
		Error  string  `json:"error"`
	}
	if err := json.Unmarshal(reply, &src); err != nil || src.Error != "" || len(src.SendNS) != 5 {
		t.Fatalf("benchsrc replied %s (%v)", reply, err)
	}
	reply, err = invokeNode(n, "sink0", []byte("RRBR"))
	if err != nil {
		t.Fatal(err)
	}
	var sink struct {
		Seq      []uint64 `json:"seq"`
		VerifyNS []int64  `json:"verify_ns"`
		Failed   int      `json:"failed"`
	}
	if err := json.Unmarshal(reply, &sink); err != nil || fmt.Sprint(sink.Seq) != "[10 11 12 13 14]" || len(sink.VerifyNS) != 5 || sink.Failed != 0 {
		t.Fatalf("benchsink reported %s (%v)", reply, err)
	}
	for i, ns := range src.SendNS {
		if ns < sink.VerifyNS[i] {
			t.Errorf("send %d took %d ns, less than its verification (%d ns), which it includes", i, ns, sink.VerifyNS[i])
		}
	}

	p := make([]byte, 8192)
	sum := payload.Fill(p)
	payload.Stamp(p, sum, 100)
	if _, err := invokeNode(n, "sink0", p); err != nil {
		t.Fatalf("a good payload failed: %v", err)
	}
	bad := map[string][]byte{
		"replayed":  p,
		"corrupt":   func() []byte { q := bytes.Clone(p); payload.Stamp(q, sum, 101); q[6000] ^= 4; return q }(),
		"truncated": func() []byte { q := bytes.Clone(p); payload.Stamp(q, sum, 102); return q[:8000] }(),
	}
	for name, q := range bad {
		if _, err := invokeNode(n, "sink0", q); err == nil {
			t.Errorf("%s payload: benchsink accepted it", name)
		}
	}
	reply, _ = invokeNode(n, "sink0", []byte("RRBR"))
	if err := json.Unmarshal(reply, &sink); err != nil || sink.Failed != 3 {
		t.Errorf("after 3 bad payloads benchsink reported %s", reply)
	}
	// A send that fails (unknown function) is reported, not hidden.
	reply, err = invokeNode(n, "src0", []byte(`{"to":"nobody","size":100000,"count":2,"seq":1000}`))
	if err != nil || !strings.Contains(string(reply), "unknown function") {
		t.Errorf("send to nobody: %s, %v", reply, err)
	}
}

// TestHTTPJSON is the http-json path in one process: the sender agent's
// node runs jsonsrc and posts its JSON to another node's HTTP ingress,
// where jsonsink decodes and verifies it.
func TestHTTPJSON(t *testing.T) {
	back := guestNode(t, map[string]string{"jsink0": "jsonsink"})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go back.Serve(ln)
	url := "http://" + ln.Addr().String() + "/v1/functions/jsink0"

	s := newSender(t)
	resp := s.handle(context.Background(), &agentRequest{Op: "json-wasm", Size: 300000, Seq: 1, Count: 3, URL: url,
		Module: wasmbuild.ForTest(t, examples+"jsonsrc"), Pairs: 1, CacheDir: node.CacheOff, MaxPayload: 64 << 20})
	checkBatch(t, resp, 3)
	if resp.RecvVerifyNS <= 0 {
		t.Errorf("jsonsink's verification took %d ns", resp.RecvVerifyNS)
	}

	// jsonsink refuses what does not verify or decode, and says why.
	p := make([]byte, 4096)
	payload.Stamp(p, payload.Fill(p), 50)
	p[3000] ^= 1
	body, _ := json.Marshal(message{Data: p})
	for _, b := range [][]byte{body, []byte(`{"data": 12}`), []byte(`not json`)} {
		if v, err := post(context.Background(), s.pair(0).http, url, "application/json", b); err == nil {
			t.Errorf("jsonsink accepted %.40q: %+v", b, v)
		}
	}
}
