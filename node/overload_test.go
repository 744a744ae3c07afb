package node_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/runtime"
)

// overloadConfig is a node whose echo has one instance, a queue of two
// and a short progress timeout.
const overloadConfig = `
node:
  max_payload: 4MiB
  invocation_timeout: 60s
  read_progress_timeout: 400ms
  cache_dir: {{cache}}
functions:
  - {name: echo, module: {{echo}}, pool: 1, queue: 2, recycle_memory: 2MiB}
`

// stalledUpload opens a connection from the loopback address local (a
// source of its own) and sends the headers of a POST to function name
// declaring a body of declared bytes, then send bytes of it, and stops.
func stalledUpload(t *testing.T, n *testNode, local, name string, declared, send int) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	c, err := d.Dial("tcp", strings.TrimPrefix(n.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST /v1/functions/%s HTTP/1.1\r\nHost: rr\r\nContent-Length: %d\r\n\r\n", name, declared)
	if _, err := c.Write(pattern(send)); err != nil {
		t.Fatal(err)
	}
	return c
}

// answer reads the HTTP answer on c (bounded against a hang, not timed).
func answer(t *testing.T, c net.Conn) *response {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(time.Minute))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return &response{status: resp.StatusCode, header: resp.Header, body: body}
}

// clientFrom is an HTTP client whose connections come from the loopback
// address local.
func clientFrom(local string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

// invokeFrom is invoke from another source.
func (n *testNode) invokeFrom(t *testing.T, local, name string, body []byte) (*response, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.url+"/v1/functions/"+name, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, err := clientFrom(local).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, trailer: resp.Trailer, body: b}, time.Since(start)
}

// TestStalledBody: a body that stops arriving is aborted after
// read_progress_timeout with 408, its instance released at once (and
// replaced, its memory having grown past recycle_memory for the declared
// size), counted; the next call is served by a fresh instance.
func TestStalledBody(t *testing.T) {
	// A Go guest's memory is a few MiB at rest: recycle above 16 MiB.
	cfg := strings.Replace(overloadConfig, "recycle_memory: 2MiB", "recycle_memory: 16MiB, max_payload: 32MiB", 1)
	n := startNode(t, cfg, nil)
	c := stalledUpload(t, n, "127.0.0.2", "echo", 24<<20, 1024)
	r := answer(t, c)
	if r.status != http.StatusRequestTimeout {
		t.Fatalf("stalled body: status %d, want 408: %s", r.status, r.body)
	}
	e := r.errorBody(t)
	if !strings.Contains(e.Error, "read_progress_timeout") {
		t.Errorf("error %q does not name read_progress_timeout", e.Error)
	}
	if got := n.metric(t, `rr_transfers_aborted_total{path="http",reason="stalled"}`); got != 1 {
		t.Errorf("rr_transfers_aborted_total stalled = %v, want 1", got)
	}
	if got := n.metric(t, `rr_instances_recycled_total{function="echo"}`); got != 1 {
		t.Errorf("rr_instances_recycled_total = %v, want 1: the instance grew to hold 24 MiB", got)
	}
	payload := pattern(1024)
	if r := n.invoke(t, "echo", payload); r.status != http.StatusOK || !bytes.Equal(r.body, payload) {
		t.Fatalf("after the stall: status %d, %d bytes", r.status, len(r.body))
	}
	if got := n.metric(t, `rr_instances_recycled_total{function="echo"}`); got != 1 {
		t.Errorf("a 1 KiB call recycled an instance: rr_instances_recycled_total = %v", got)
	}
}

// TestTricklingBody: a body that arrives slowly but steadily, taking many
// times read_progress_timeout in all, is not aborted.
func TestTricklingBody(t *testing.T) {
	cfg := strings.Replace(overloadConfig, "read_progress_timeout: 400ms", "read_progress_timeout: 1s", 1)
	n := startNode(t, cfg, nil)
	const chunks, chunk = 12, 16
	c := stalledUpload(t, n, "127.0.0.2", "echo", chunks*chunk, 0)
	want := pattern(chunks * chunk)
	start := time.Now()
	for i := range chunks {
		time.Sleep(250 * time.Millisecond) // the trickle: 3 s in all, each gap well under the 1 s progress timeout
		if _, err := c.Write(want[i*chunk : (i+1)*chunk]); err != nil {
			t.Fatal(err)
		}
	}
	r := answer(t, c)
	if r.status != http.StatusOK || !bytes.Equal(r.body, want) {
		t.Fatalf("trickled body: status %d after %s: %s", r.status, time.Since(start), r.body)
	}
}

// TestQueueFull: with every instance busy and the queue full, a call is
// refused at once with 503 busy and Retry-After, and its body (unread)
// does not cost it the answer; a source with fewer waiting takes the
// place of the newest waiter of the source with the most.
func TestQueueFull(t *testing.T) {
	cfg := strings.Replace(overloadConfig, "read_progress_timeout: 400ms", "read_progress_timeout: 30s", 1)
	n := startNode(t, cfg, nil)
	hold := stalledUpload(t, n, "127.0.0.2", "echo", 1<<20, 10) // holds the instance
	waitMetric(t, n, `rr_function_invocations_in_flight{function="echo"}`, 1)
	// Two waiters of source .3 fill the queue.
	q1 := stalledUpload(t, n, "127.0.0.3", "echo", 10, 10)
	waitMetric(t, n, `rr_function_queue_length{function="echo"}`, 1)
	q2 := stalledUpload(t, n, "127.0.0.3", "echo", 10, 10)
	waitMetric(t, n, `rr_function_queue_length{function="echo"}`, 2)

	// A third of .3: refused at once, its 64 KiB body unread.
	r, _ := n.invokeFrom(t, "127.0.0.3", "echo", pattern(64<<10))
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Fatalf("over the queue: status %d, Retry-After %q: %s", r.status, r.header.Get("Retry-After"), r.body)
	}
	if e := r.errorBody(t); e.Code != runtime.CodeBusy {
		t.Errorf("over the queue: code %v, want busy", e.Code)
	}
	// A newcomer of source .4 takes the place of .3's newest waiter.
	q3 := stalledUpload(t, n, "127.0.0.4", "echo", 10, 10)
	if r := answer(t, q2); r.status != http.StatusServiceUnavailable {
		t.Fatalf(".3's newest waiter: status %d, want 503 (its place taken by .4): %s", r.status, r.body)
	}
	if got := n.metric(t, `rr_function_queue_refused_total{function="echo",reason="queue_full"}`); got != 2 {
		t.Errorf("rr_function_queue_refused_total queue_full = %v, want 2", got)
	}
	// The holder finishes: the waiters are served, .3 then .4.
	if _, err := hold.Write(pattern(1<<20 - 10)); err != nil {
		t.Fatal(err)
	}
	for i, c := range []net.Conn{hold, q1, q3} {
		if r := answer(t, c); r.status != http.StatusOK {
			t.Errorf("call %d: status %d: %s", i, r.status, r.body)
		}
	}
	waitMetric(t, n, `rr_function_queue_length{function="echo"}`, 0)
}

// TestFairAdmission: a source that holds the instance and has more calls
// queued does not keep another source waiting behind all of them: the
// freed instance goes to the source that holds none.
func TestFairAdmission(t *testing.T) {
	cfg := strings.Replace(overloadConfig, "queue: 2", "queue: 8", 1)
	cfg = strings.Replace(cfg, "read_progress_timeout: 400ms", "read_progress_timeout: 1s", 1)
	n := startNode(t, cfg, nil)
	// Source .2 holds the instance and queues three more, each a body
	// that stalls (1 s each, one after another if served first).
	var stallers []net.Conn
	for i := range 4 {
		stallers = append(stallers, stalledUpload(t, n, "127.0.0.2", "echo", 1<<10, 10))
		waitMetric(t, n, `rr_function_queue_length{function="echo"}`, float64(i))
	}
	r, took := n.invokeFrom(t, "127.0.0.3", "echo", pattern(100))
	if r.status != http.StatusOK {
		t.Fatalf("the other source: status %d: %s", r.status, r.body)
	}
	// Served after the first stall, not after all four: when its answer
	// came, one staller (at most two, if the next one's second ran out
	// meanwhile) had been aborted, not four.
	if got := n.metric(t, `rr_transfers_aborted_total{path="http",reason="stalled"}`); got > 2 {
		t.Errorf("the other source was served after %v stalls (%s): behind .2's queued calls", got, took)
	}
	for _, c := range stallers {
		if r := answer(t, c); r.status != http.StatusRequestTimeout {
			t.Errorf("staller: status %d, want 408", r.status)
		}
	}
}

// TestQueueDeadline: a call still queued when its invocation's deadline
// passes is refused with busy, not answered late.
func TestQueueDeadline(t *testing.T) {
	cfg := strings.Replace(overloadConfig, "read_progress_timeout: 400ms", "read_progress_timeout: 30s", 1)
	n := startNode(t, cfg, nil)
	hold := stalledUpload(t, n, "127.0.0.2", "echo", 1<<10, 10)
	waitMetric(t, n, `rr_function_invocations_in_flight{function="echo"}`, 1)
	// The waiter's deadline (its context's) comes long before the
	// holder's (invocation_timeout).
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := n.Invoke(ctx, "echo", 100, func(dst []byte) error { copy(dst, pattern(100)); return nil }, nil)
	if runtime.CodeOf(err) != runtime.CodeBusy {
		t.Fatalf("queued past the deadline: %v, want busy", err)
	}
	if got := n.metric(t, `rr_function_queue_refused_total{function="echo",reason="deadline"}`); got != 1 {
		t.Errorf("rr_function_queue_refused_total deadline = %v, want 1", got)
	}
	if _, err := hold.Write(pattern(1<<10 - 10)); err != nil {
		t.Fatal(err)
	}
	if r := answer(t, hold); r.status != http.StatusOK {
		t.Errorf("the holder: status %d, want 200: %s", r.status, r.body)
	}
}

// waitMetric polls the series until it has value want.
func waitMetric(t *testing.T, n *testNode, series string, want float64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := n.metric(t, series)
		if got == want || want == 0 && got == -1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v, want %v", series, got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestReserve: while another source holds an instance, a source that
// holds one already does not take the last free one: it waits, and a third
// source's call is served at once.
func TestReserve(t *testing.T) {
	cfg := strings.Replace(overloadConfig, "pool: 1, queue: 2", "pool: 3, queue: 8", 1)
	cfg = strings.Replace(cfg, "read_progress_timeout: 400ms", "read_progress_timeout: 30s", 1)
	n := startNode(t, cfg, nil)
	other := stalledUpload(t, n, "127.0.0.3", "echo", 1<<10, 10)
	first := stalledUpload(t, n, "127.0.0.2", "echo", 1<<10, 10)
	waitMetric(t, n, `rr_function_invocations_in_flight{function="echo"}`, 2)
	second := stalledUpload(t, n, "127.0.0.2", "echo", 1<<10, 10)
	waitMetric(t, n, `rr_function_queue_length{function="echo"}`, 1) // .2 may not take the last instance
	if r, _ := n.invokeFrom(t, "127.0.0.4", "echo", pattern(100)); r.status != http.StatusOK {
		t.Fatalf("a third source: status %d: %s", r.status, r.body)
	}
	// .2's first call ends: its second takes that instance.
	if _, err := first.Write(pattern(1<<10 - 10)); err != nil {
		t.Fatal(err)
	}
	if r := answer(t, first); r.status != http.StatusOK {
		t.Fatalf(".2's first: status %d", r.status)
	}
	waitMetric(t, n, `rr_function_queue_length{function="echo"}`, 0)
	for _, c := range []net.Conn{second, other} {
		if _, err := c.Write(pattern(1<<10 - 10)); err != nil {
			t.Fatal(err)
		}
		if r := answer(t, c); r.status != http.StatusOK {
			t.Errorf("status %d: %s", r.status, r.body)
		}
	}
}
