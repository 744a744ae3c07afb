package node_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/node"
	"github.com/roadrunner-wasm/roadrunner/runtime"
	"github.com/roadrunner-wasm/roadrunner/transport"
)

func TestHTTPRoundTrip(t *testing.T) {
	n := startNode(t, "", nil)
	for _, size := range []int{0, 1, 1 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			payload := pattern(size)
			r := n.invoke(t, "echo", payload)
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if !bytes.Equal(r.body, payload) {
				t.Fatalf("reply of %d bytes differs from the %d sent", len(r.body), len(payload))
			}
			if ct := r.header.Get("Content-Type"); ct != "application/octet-stream" {
				t.Errorf("Content-Type = %q", ct)
			}
			if e := r.trailer.Get(node.HeaderError); e != "" {
				t.Errorf("Rr-Error = %q", e)
			}
			tr := r.trace(t)
			want := node.Hop{From: node.IngressFrom, To: "echo", Path: transport.PathHTTP.String(), Bytes: uint64(size), Result: "ok"}
			if len(tr) != 1 {
				t.Fatalf("trace = %+v, want one hop", tr)
			}
			checkHop(t, tr[0], want)
		})
	}
}

// checkHop compares a hop with want, times aside, and checks that a
// successful hop says its payload landed (not how fast).
func checkHop(t *testing.T, got, want node.Hop) {
	t.Helper()
	landed := got.TransferNS > 0
	got.TransferNS, got.TotalNS = 0, 0
	if got != want {
		t.Errorf("hop = %+v, want %+v", got, want)
	}
	if want.Result == "ok" && !landed {
		t.Errorf("hop %s -> %s succeeded with transfer_ns 0", want.From, want.To)
	}
}

// TestMemoryPathRoundTrip sends through a guest-to-guest hop: relay forwards
// the payload to echo on the memory path, and echo's reply answers the
// invocation.
func TestMemoryPathRoundTrip(t *testing.T) {
	n := startNode(t, "", nil)
	for _, size := range []int{0, 1, 1 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			data := pattern(size)
			body := append([]byte("forward echo\n"), data...)
			r := n.invoke(t, "relay", body)
			if r.status != http.StatusOK || !bytes.Equal(r.body, data) {
				t.Fatalf("status %d, %d bytes back (want %d intact): %.200s", r.status, len(r.body), size, r.body)
			}
			tr := r.trace(t)
			if len(tr) != 2 {
				t.Fatalf("trace = %+v, want two hops", tr)
			}
			checkHop(t, tr[0], node.Hop{From: "http", To: "relay", Path: "http", Bytes: uint64(len(body)), Result: "ok"})
			checkHop(t, tr[1], node.Hop{From: "relay", To: "echo", Path: "memory", Bytes: uint64(size), Result: "ok"})
			if tr[0].TotalNS < tr[1].TotalNS {
				t.Errorf("ingress total %d ns is less than the nested hop's %d ns", tr[0].TotalNS, tr[1].TotalNS)
			}
		})
	}
}

func TestUnknownFunction(t *testing.T) {
	n := startNode(t, "", nil)
	r := n.invoke(t, "nosuch", []byte("x"))
	if r.status != http.StatusNotFound {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	e := r.errorBody(t)
	if e.Code != runtime.CodeUnknownFunction || e.Label != "unknown_function" || !strings.Contains(e.Error, `"nosuch"`) {
		t.Errorf("error body = %+v", e)
	}
	if tr := r.trace(t); len(tr) != 1 || tr[0].Result != "unknown_function" {
		t.Errorf("trace = %+v", tr)
	}

	r = n.invoke(t, "relay", []byte("send nosuch\nhello"))
	if r.status != http.StatusOK || string(r.body) != fmt.Sprint(int(runtime.CodeUnknownFunction)) {
		t.Fatalf("guest send to an unknown name: status %d, body %q, want the unknown-function code", r.status, r.body)
	}
	if tr := r.trace(t); len(tr) != 2 || tr[1].Result != "unknown_function" || tr[1].To != "nosuch" {
		t.Errorf("trace = %+v", tr)
	}
}

// counterStats asks the counter guest (pool 1: always the same instance)
// how often the host called its rr_alloc and rr_handle, this call included.
func counterStats(t *testing.T, n *testNode) string {
	t.Helper()
	r := n.invoke(t, "counter", []byte("count"))
	if r.status != http.StatusOK {
		t.Fatalf("count: status %d: %s", r.status, r.body)
	}
	return string(r.body)
}

// TestTooLargeRefusedBeforeAlloc checks that a payload over max_payload is
// refused, over HTTP and from a guest, without calling the receiver's
// rr_alloc.
func TestTooLargeRefusedBeforeAlloc(t *testing.T) {
	n := startNode(t, "", nil)
	if got := counterStats(t, n); got != "allocs=1 handles=1" {
		t.Fatalf("counter = %q", got)
	}
	r := n.invoke(t, "counter", pattern(1025))
	if r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("1025 bytes to a 1KiB function: status %d: %s", r.status, r.body)
	}
	if e := r.errorBody(t); e.Code != runtime.CodeTooLarge || !strings.Contains(e.Error, "max_payload") {
		t.Errorf("error body = %+v", e)
	}
	r = n.invoke(t, "relay", append([]byte("send counter\n"), pattern(2000)...))
	if string(r.body) != fmt.Sprint(int(runtime.CodeTooLarge)) {
		t.Fatalf("guest send of 2000 bytes to a 1KiB function: status %d, body %q", r.status, r.body)
	}
	if got := counterStats(t, n); got != "allocs=2 handles=2" {
		t.Fatalf("after two refused payloads the counter says %q, want allocs=2 handles=2: rr_alloc ran for a refused payload", got)
	}
	r = n.invoke(t, "counter", pattern(1024)) // the limit itself is fine
	if r.status != http.StatusNoContent {
		t.Fatalf("1024 bytes: status %d: %s", r.status, r.body)
	}
}

// TestShortBody sends a body shorter than its Content-Length: 400, and the
// function's rr_handle never sees the partial payload.
func TestShortBody(t *testing.T) {
	n := startNode(t, "", nil)
	if got := counterStats(t, n); got != "allocs=1 handles=1" {
		t.Fatalf("counter = %q", got)
	}
	conn, err := net.Dial("tcp", strings.TrimPrefix(n.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/functions/counter HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\n%s", pattern(50))
	conn.(*net.TCPConn).CloseWrite()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("short body: status %d: %s", resp.StatusCode, body)
	}
	r := &response{status: resp.StatusCode, header: resp.Header, body: body}
	if e := r.errorBody(t); e.Label != "transport" || !strings.Contains(e.Error, "read request body") {
		t.Errorf("error body = %+v", e)
	}
	if tr := r.trace(t); len(tr) != 1 || tr[0].Result != "transport" || tr[0].TransferNS != 0 {
		t.Errorf("trace = %+v, want one failed hop whose payload never landed", tr)
	}
	// The buffer was allocated (the body is read straight into it), the
	// handler never ran.
	if got := counterStats(t, n); got != "allocs=3 handles=2" {
		t.Fatalf("after a short body the counter says %q, want allocs=3 handles=2", got)
	}
}

// TestChunkedBody: a body without Content-Length is taken up to the
// function's max_payload, echoed whole; past it, 413 and the function is
// not called (its rr_alloc neither).
func TestChunkedBody(t *testing.T) {
	n := startNode(t, "", nil)
	chunked := func(name string, body []byte) *response {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, n.url+"/v1/functions/"+name, io.MultiReader(bytes.NewReader(body)))
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = -1 // sent chunked
		return do(t, req)
	}
	for _, size := range []int{0, 1, 1 << 10, 4 << 20} {
		body := pattern(size)
		if r := chunked("echo", body); r.status != http.StatusOK || !bytes.Equal(r.body, body) {
			t.Fatalf("chunked body of %d bytes: status %d, %d bytes back", size, r.status, len(r.body))
		}
	}
	if got := counterStats(t, n); got != "allocs=1 handles=1" {
		t.Fatalf("counter = %q", got)
	}
	r := chunked("counter", pattern(1025))
	if r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("a chunked 1025 bytes to a 1KiB function: status %d: %s", r.status, r.body)
	}
	if e := r.errorBody(t); e.Label != "too_large" || e.Function != "counter" || !strings.Contains(e.Error, "chunked body over function counter's max_payload of 1024 bytes") {
		t.Errorf("error body = %+v", e)
	}
	if got := counterStats(t, n); got != "allocs=2 handles=2" {
		t.Fatalf("after a chunked body too large the counter says %q, want allocs=2 handles=2: it was called", got)
	}
	if r := chunked("counter", pattern(1024)); r.status != http.StatusOK && r.status != http.StatusNoContent {
		t.Fatalf("a chunked 1024 bytes to a 1KiB function: status %d: %s", r.status, r.body)
	}
	if r := chunked("nosuch", pattern(10)); r.status != http.StatusNotFound {
		t.Fatalf("chunked to an unknown function: status %d: %s", r.status, r.body)
	}
	if r := n.invoke(t, "echo", nil); r.status != http.StatusOK || len(r.body) != 0 {
		t.Fatalf("empty body with Content-Length 0: status %d: %q", r.status, r.body)
	}
}

func TestHandlerError(t *testing.T) {
	n := startNode(t, "", nil)
	r := n.invoke(t, "relay", []byte("fail"))
	if r.status != http.StatusInternalServerError {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	e := r.errorBody(t)
	if e.Code != runtime.CodeReceiverFailed || e.Label != "receiver_failed" || !strings.Contains(e.Error, "function relay: rr_handle returned 1") {
		t.Errorf("error body = %+v", e)
	}
	// The guest SDK wrote the handler's error to stderr: it is in the log,
	// tagged with the function.
	if logs := n.logs.String(); !strings.Contains(logs, `"function":"relay","stream":"stderr","text":"roadrunner guest: handler: deliberate failure"`) {
		t.Errorf("guest stderr not logged:\n%s", logs)
	}
	if r := n.invoke(t, "relay", []byte("forward echo\nnext")); r.status != http.StatusOK || string(r.body) != "next" {
		t.Fatalf("next request: status %d: %q", r.status, r.body)
	}
}

func TestPanicReplacesInstance(t *testing.T) {
	n := startNode(t, "", nil)
	replaced := `rr_instances_replaced_total{function="self"}`
	if got := n.metric(t, replaced); got != 0 {
		t.Fatalf("%s = %v before any trap", replaced, got)
	}
	r := n.invoke(t, "self", []byte("panic"))
	if r.status != http.StatusInternalServerError {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if e := r.errorBody(t); e.Code != runtime.CodeReceiverTrapped || !strings.Contains(e.Error, "function self: rr_handle") {
		t.Errorf("error body = %+v", e)
	}
	if got := n.metric(t, replaced); got != 1 {
		t.Errorf("%s = %v after a panic, want 1", replaced, got)
	}
	// self has one instance: the next request runs on its replacement.
	if r := n.invoke(t, "self", []byte("forward echo\nagain")); r.status != http.StatusOK || string(r.body) != "again" {
		t.Fatalf("next request: status %d: %q", r.status, r.body)
	}
	if logs := n.logs.String(); !strings.Contains(logs, "deliberate panic") {
		t.Errorf("the guest's panic message is not in the log:\n%s", logs)
	}
}

func TestReplyTwice(t *testing.T) {
	n := startNode(t, "", nil)
	// The guest fails its handler unless the second reply gets
	// ErrAlreadyReplied.
	r := n.invoke(t, "relay", []byte("reply2"))
	if r.status != http.StatusOK || string(r.body) != "first" || r.trailer.Get(node.HeaderError) != "" {
		t.Fatalf("status %d, body %q, Rr-Error %q", r.status, r.body, r.trailer.Get(node.HeaderError))
	}
	// A chain that fails after its reply says so in the Rr-Error trailer.
	r = n.invoke(t, "relay", []byte("replythenfail"))
	if r.status != http.StatusOK || string(r.body) != "partial" {
		t.Fatalf("status %d, body %q", r.status, r.body)
	}
	if e := r.trailer.Get(node.HeaderError); !strings.Contains(e, "rr_handle returned 1") {
		t.Errorf("Rr-Error = %q, want the failure", e)
	}
	if tr := r.trace(t); len(tr) != 1 || tr[0].Result != "receiver_failed" {
		t.Errorf("trace = %+v", tr)
	}
}

// TestCycleBusy sends from a function to itself with a pool of one: the
// only instance is on the chain, so the send fails with CodeBusy at once
// instead of waiting for it (which would deadlock until the timeout).
func TestCycleBusy(t *testing.T) {
	n := startNode(t, "", nil)
	r := n.invoke(t, "self", []byte("send self\nx"))
	if r.status != http.StatusOK || string(r.body) != fmt.Sprint(int(runtime.CodeBusy)) {
		t.Fatalf("status %d, body %q, want the busy code", r.status, r.body)
	}
	// relay has four instances: a cycle runs while one is idle.
	r = n.invoke(t, "relay", []byte("forward relay\nforward echo\nround"))
	if r.status != http.StatusOK || string(r.body) != "round" {
		t.Fatalf("relay -> relay -> echo: status %d, body %q", r.status, r.body)
	}
}

func TestDepthLimit(t *testing.T) {
	n := startNode(t, "", nil) // max_depth 4
	r := n.invoke(t, "relay", []byte("nest 3 relay"))
	if r.status != http.StatusOK || string(r.body) != "bottom" {
		t.Fatalf("a chain of 4: status %d, body %q", r.status, r.body)
	}
	if tr := r.trace(t); len(tr) != 4 {
		t.Errorf("trace has %d hops, want 4: %+v", len(tr), tr)
	}
	r = n.invoke(t, "relay", []byte("nest 10 relay"))
	if r.status != http.StatusOK || string(r.body) != fmt.Sprint("depth-error ", int(runtime.CodeBusy)) {
		t.Fatalf("a chain of 11: status %d, body %q", r.status, r.body)
	}
	tr := r.trace(t)
	if len(tr) != 5 || tr[4].Result != "busy" || tr[3].Result != "ok" {
		t.Errorf("trace = %+v, want 4 ok hops and a busy fifth", tr)
	}
}

func TestHealthz(t *testing.T) {
	n := startNode(t, "", nil)
	for _, path := range []string{"/healthz", "/readyz"} {
		if r := n.get(t, path); r.status != http.StatusOK || string(r.body) != "ok\n" {
			t.Fatalf("%s: status %d: %q", path, r.status, r.body)
		}
	}
}

func TestMetrics(t *testing.T) {
	n := startNode(t, "", &node.Options{Accel: transport.AccelIOURing | transport.AccelSockmap})
	n.invoke(t, "relay", []byte("forward echo\n12345"))
	n.invoke(t, "relay", []byte("send nosuch\n12"))
	n.invoke(t, "nosuch", nil)
	for series, want := range map[string]float64{
		`rr_transfers_total{mechanism="read",path="http",result="ok"}`:                      2,
		`rr_transfers_total{mechanism="read",path="http",result="unknown_function"}`:        1,
		`rr_transfers_total{mechanism="copy",path="memory",result="ok"}`:                    1,
		`rr_transfers_total{mechanism="copy",path="memory",result="unknown_function"}`:      1,
		`rr_transfer_bytes_total{mechanism="copy",path="memory",result="ok"}`:               5,
		`rr_transfer_bytes_total{mechanism="copy",path="memory",result="unknown_function"}`: 2,
		`rr_transfer_duration_seconds_count{path="memory"}`:                                 1,
		`rr_transfer_duration_seconds_count{path="http"}`:                                   2,
		`rr_invocations_total{function="relay",result="ok"}`:                                2,
		`rr_invocations_total{function="echo",result="ok"}`:                                 1,
		`rr_invocation_duration_seconds_count{function="echo"}`:                             1,
		`rr_instances_replaced_total{function="echo"}`:                                      0,
		`rr_accel{accel="iouring"}`:                                                         1,
		`rr_accel{accel="sockmap"}`:                                                         1,
		`rr_sockmap_sockets`:                                                                0,
	} {
		if got := n.metric(t, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
}

// A guest that hands send a range outside its memory gets the bad-pointer
// code, the node does not panic, and it goes on serving.
func TestBadPointerFromGuest(t *testing.T) {
	n := startNode(t, "", nil)
	for _, body := range []string{"badptr 4294967280 32", "badptr 4294901760 16", "badptr 0 4294967295"} {
		r := n.invoke(t, "relay", []byte(body))
		if r.status != http.StatusOK || string(r.body) != "-1" {
			t.Fatalf("%s: status %d, body %q; want 200 and the bad-pointer code -1", body, r.status, r.body)
		}
	}
	if r := n.invoke(t, "relay", []byte("send echo\nstill serving")); r.status != http.StatusOK || string(r.body) != "still serving" {
		t.Fatalf("after bad pointers: status %d, body %q", r.status, r.body)
	}
}

// TestLongTrace: an invocation with more hops than fit in a trailer Go's
// HTTP client accepts (about 4 KiB) still answers readably, its trace cut
// to MaxTraceHeader bytes, the first hops kept.
func TestLongTrace(t *testing.T) {
	n := startNode(t, "", nil)
	r := n.invoke(t, "relay", []byte("repeat 100 counter\nx"))
	if r.status != http.StatusNoContent {
		t.Fatalf("status %d, body %q", r.status, r.body)
	}
	raw := r.header.Get(node.HeaderTrace) + r.trailer.Get(node.HeaderTrace)
	if len(raw) > node.MaxTraceHeader {
		t.Fatalf("Rr-Trace is %d bytes, over MaxTraceHeader %d", len(raw), node.MaxTraceHeader)
	}
	tr := r.trace(t)
	if len(tr) < 10 || len(tr) >= 101 {
		t.Fatalf("trace kept %d hops of 101", len(tr))
	}
	if tr[0].From != node.IngressFrom || tr[1].To != "counter" {
		t.Fatalf("trace does not start with the first hops: %+v", tr[:2])
	}
	if got := n.metric(t, `rr_invocations_total{function="counter",result="ok"}`); got != 100 {
		t.Fatalf("counter handled %v payloads, want 100 (hops left out of the trace still count)", got)
	}
}
