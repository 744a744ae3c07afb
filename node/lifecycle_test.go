package node_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/runtime"
)

// TestGracefulShutdown starts an invocation that cannot finish until the
// test sends the rest of its body, shuts the node down meanwhile, and checks
// that Shutdown waits for it, that the invocation completes intact, and that
// new invocations are refused while draining.
func TestGracefulShutdown(t *testing.T) {
	n := startNode(t, "", nil)
	payload := pattern(64 << 10)
	conn, err := net.Dial("tcp", strings.TrimPrefix(n.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/functions/echo HTTP/1.1\r\nHost: test\r\nContent-Length: %d\r\n\r\n", len(payload))
	half := len(payload) / 2
	if _, err := conn.Write(payload[:half]); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the node reading the body into echo's memory", func() bool { return n.InFlight() > 0 })

	done := make(chan error, 1)
	go func() { done <- n.Shutdown(context.Background()) }()
	// Draining: new invocations are refused with CodeCanceled; until
	// Shutdown has begun, they succeed.
	waitUntil(t, "a new invocation refused as canceled", func() bool {
		_, err := n.Invoke(context.Background(), "echo", 1, func(dst []byte) error { dst[0] = 1; return nil }, io.Discard)
		if err != nil && !errors.Is(err, runtime.CodeCanceled) {
			t.Fatalf("invoke while draining: %v", err)
		}
		return err != nil
	})
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned (%v) with an invocation in flight", err)
	default:
	}

	if _, err := conn.Write(payload[half:]); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, payload) {
		t.Fatalf("in-flight invocation: status %d, %d bytes back, want 200 and the %d sent", resp.StatusCode, len(body), len(payload))
	}
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if _, err := net.Dial("tcp", strings.TrimPrefix(n.url, "http://")); err == nil {
		t.Error("the listener still accepts after Shutdown")
	}
}

// TestShutdownDeadline gives Shutdown no time: the invocation in flight is
// canceled and fails explicitly, and Shutdown says so.
func TestShutdownDeadline(t *testing.T) {
	n := startNode(t, "", nil)
	release, free := held(t)
	invoked := make(chan error, 1)
	go func() {
		_, err := n.Invoke(context.Background(), "echo", 4, func(dst []byte) error {
			<-release // a slow source: the invocation is in flight
			copy(dst, "late")
			return nil
		}, io.Discard)
		invoked <- err
	}()
	waitUntil(t, "an invocation in flight", func() bool { return n.InFlight() > 0 })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := n.Shutdown(ctx)
	if err == nil || !strings.Contains(err.Error(), "1 invocations canceled") {
		t.Errorf("Shutdown = %v, want the canceled invocation reported", err)
	}
	free()
	if err := <-invoked; err == nil {
		t.Error("the canceled invocation succeeded")
	}
}

// TestHealthzDraining: a draining node is alive but not ready.
func TestHealthzDraining(t *testing.T) {
	n := startNode(t, "", nil)
	h := n.Handler()
	release, free := held(t)
	go n.Invoke(context.Background(), "echo", 1, func(dst []byte) error { <-release; return nil }, io.Discard)
	waitUntil(t, "an invocation in flight", func() bool { return n.InFlight() > 0 })
	done := make(chan error, 1)
	go func() { done <- n.Shutdown(context.Background()) }()
	waitUntil(t, "/readyz answering 503 draining", func() bool {
		// The listener is closed while the node drains: call the handler.
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		return rec.Code == http.StatusServiceUnavailable && rec.Body.String() == "draining\n"
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "ok\n" {
		t.Errorf("/healthz while draining: %d %q, want 200 ok: the process is alive", rec.Code, rec.Body)
	}
	free()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestInvocationTimeout sends half a body and waits past the invocation's
// deadline: 504, the instance is not held, and the next request runs.
func TestInvocationTimeout(t *testing.T) {
	config := strings.Replace(testConfig, "invocation_timeout: 60s", "invocation_timeout: 500ms", 1)
	n := startNode(t, config, nil)
	conn, err := net.Dial("tcp", strings.TrimPrefix(n.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/functions/self HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\nforward echo\n")
	// No more body: the node's read deadline is the invocation's.
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(string(body), `"label":"canceled"`) {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	r := &response{status: resp.StatusCode, header: resp.Header, body: body}
	if tr := r.trace(t); len(tr) != 1 || tr[0].Result != "canceled" {
		t.Errorf("trace = %+v", tr)
	}
	// self has one instance: it must be free again.
	if r := n.invoke(t, "self", []byte("forward echo\nok")); r.status != http.StatusOK || string(r.body) != "ok" {
		t.Fatalf("next request: status %d: %s", r.status, r.body)
	}
}

// waitUntil polls cond until it holds, and fails the test, naming what it
// waited for, if it does not within a deadline generous enough for a
// loaded machine.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	const deadline = 30 * time.Second
	for start := time.Now(); !cond(); time.Sleep(time.Millisecond) {
		if time.Since(start) > deadline {
			t.Fatalf("waited %v for %s", deadline, what)
		}
	}
}

// held returns a channel that holds an invocation's fill and the function
// that frees it; the test's cleanup frees it too (before the node's
// shutdown), so that a failed assertion leaves no invocation held.
func held(t *testing.T) (release chan struct{}, free func()) {
	release = make(chan struct{})
	var once sync.Once
	free = func() { once.Do(func() { close(release) }) }
	t.Cleanup(free)
	return release, free
}

// TestShutdownClosesSilentConnection: a client connection that never sent
// a request (net/http waits 5 s before it counts such a connection idle)
// is closed by Shutdown once the invocations have ended, and Shutdown
// still succeeds: a CI run once failed with "http shutdown: context
// canceled" when such a connection (a client's spare) outlived closeGrace.
func TestShutdownClosesSilentConnection(t *testing.T) {
	n := startNode(t, "", nil)
	conn, err := net.Dial("tcp", strings.TrimPrefix(n.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if r := n.invoke(t, "echo", []byte("x")); r.status != http.StatusOK {
		t.Fatalf("echo: %d %q", r.status, r.body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := n.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with a silent client connection open: %v, want nil", err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("the silent connection after Shutdown: read %v, want EOF (closed)", err)
	}
}
