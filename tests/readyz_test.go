package tests

// Readiness and termination the Kubernetes way, on real rrnode processes:
// /readyz and /healthz scraped through a node's whole life (start-up,
// serving, SIGTERM, drain_delay, drain, exit); a client hammering the node
// through SIGTERM; a drain_timeout that runs out with 20 uploads of 16 MiB
// in flight, every caller answered.

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// procNode is an rrnode started by the test itself, not through nodeproc
// (which returns only once /healthz answers): the test sees its start-up.
type procNode struct {
	cmd    *exec.Cmd
	url    string
	log    *logBuf
	exited chan struct{}
	err    error // cmd.Wait's, once exited is closed
}

// startProc starts rrnode start on config with a free loopback port for
// its ingress, and kills it at cleanup if it still runs.
func startProc(t *testing.T, tr tree, config string) *procNode {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	p := &procNode{url: "http://" + addr, log: &logBuf{}, exited: make(chan struct{})}
	p.cmd = exec.Command(tr.rrnode, "start", "--config", config, "--http", addr)
	p.cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+filepath.Join(tr.dir, "cache"))
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("node output (end):\n%s", p.log.tail(16<<10))
		}
	})
	return p
}

// wait waits for the process to exit and returns its exit code.
func (p *procNode) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(timeout):
		t.Fatalf("rrnode still running %v after SIGTERM", timeout)
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatal(p.err)
	}
	return 0
}

// probeState is one answer of /readyz or /healthz: "refused" (no
// connection), or the status and the body's first line.
func probeState(client *http.Client, url string) string {
	resp, err := client.Get(url)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return "refused"
		}
		return "error: " + err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strconv.Itoa(resp.StatusCode) + " " + strings.TrimSpace(string(b))
}

// collapse drops repeats: a, a, b, a -> a, b, a.
func collapse(states []string) []string {
	var out []string
	for _, s := range states {
		if len(out) == 0 || out[len(out)-1] != s {
			out = append(out, s)
		}
	}
	return out
}

// noKeepAlive is a client whose every request opens a new connection: a
// closed listener shows as a refused connection, not a reused one.
func noKeepAlive() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
}

// TestReadyzLifecycle scrapes /readyz and /healthz from the start of
// rrnode to its exit, and hammers it with invocations through SIGTERM:
// /readyz goes refused -> (503 starting) -> 200 ok -> 503 draining ->
// refused; /healthz is 200 from its first answer to its last; during
// drain_delay every invocation is served, none refused.
func TestReadyzLifecycle(t *testing.T) {
	tr := buildAll(t)
	dir := shortDir(t)
	const drainDelay = 2 * time.Second
	config := nodeConfig{name: "r", listenUnix: filepath.Join(dir, "r.sock"), listenTCP: "127.0.0.1:0",
		functions: []fn{{name: "hold", module: "hold", pool: 4}}}.write(t, tr, dir)
	setNodeLines(t, config, "drain_delay: 0", "drain_delay: "+drainDelay.String())
	p := startProc(t, tr, config)

	type sample struct {
		at           time.Time
		ready, alive string
	}
	var (
		mu      sync.Mutex
		samples []sample
		stop    = make(chan struct{})
		done    sync.WaitGroup
	)
	probe := noKeepAlive()
	done.Add(1)
	go func() {
		defer done.Done()
		for {
			s := sample{at: time.Now(), ready: probeState(probe, p.url+"/readyz"), alive: probeState(probe, p.url+"/healthz")}
			mu.Lock()
			samples = append(samples, s)
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()

	type call struct {
		at     time.Time
		result string
	}
	var calls []call
	hammer := noKeepAlive()
	done.Add(1)
	go func() {
		defer done.Done()
		for {
			at := time.Now()
			result := "refused"
			resp, err := hammer.Post(p.url+"/v1/functions/hold", "application/octet-stream", strings.NewReader("0\nping"))
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				result = strconv.Itoa(resp.StatusCode)
			} else if !errors.Is(err, syscall.ECONNREFUSED) {
				result = "error: " + err.Error()
			}
			mu.Lock()
			calls = append(calls, call{at, result})
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()

	// Serving: ready, and invocations answered.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		mu.Lock()
		ok := len(samples) > 0 && samples[len(samples)-1].ready == "200 ok" && len(calls) > 0 && calls[len(calls)-1].result == "204"
		mu.Unlock()
		if ok {
			break
		}
		select {
		case <-p.exited:
			t.Fatalf("rrnode exited while starting")
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("node not ready and serving within 2m")
		}
	}
	sigterm := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code := p.wait(t, time.Minute)
	close(stop)
	done.Wait()
	if code != 0 {
		t.Fatalf("rrnode exited %d after SIGTERM", code)
	}

	var ready, alive []string
	for _, s := range samples {
		ready, alive = append(ready, s.ready), append(alive, s.alive)
	}
	// /readyz: the states in their order, each at most once.
	order := map[string]int{"refused": 0, "503 starting": 1, "200 ok": 2, "503 draining": 3}
	seq := collapse(ready)
	rank := -1
	for i, s := range seq {
		r, known := order[s]
		if (s == "refused" || strings.HasPrefix(s, "error: ")) && i > 0 && rank >= 3 {
			// The listener closed, at the drain: a connection the
			// kernel had queued but the node had not accepted yet is
			// reset (EOF), then connections are refused.
			r, known = 4, true
			if rank == 4 {
				r = 5
			}
		}
		if !known || r <= rank {
			t.Fatalf("/readyz went %q, want refused -> (503 starting) -> 200 ok -> 503 draining -> refused", seq)
		}
		rank = r
	}
	if !strings.Contains(strings.Join(seq, ","), "200 ok,503 draining") {
		t.Errorf("/readyz went %q: never 200 then 503 draining", seq)
	}
	// /healthz: 200 from its first answer to its last, draining
	// included; then, the listener closed, a reset (a connection the
	// kernel had queued) or refused.
	seen200, after := false, false
	for _, s := range collapse(alive) {
		switch {
		case s == "200 ok" && !after:
			seen200 = true
		case (s == "refused" || strings.HasPrefix(s, "error: ")) && seen200:
			after = true
		case s == "refused" && !seen200:
		default:
			t.Errorf("/healthz answered %q, want 200 ok while the process serves: %q", s, collapse(alive))
		}
	}
	var drainingAlive bool
	for _, s := range samples {
		drainingAlive = drainingAlive || (s.ready == "503 draining" && s.alive == "200 ok")
	}
	if !drainingAlive {
		t.Error("never saw /readyz 503 draining with /healthz 200 ok")
	}
	// The first 503 draining came at once, and readiness was off for
	// about drain_delay before the listener closed.
	var firstDraining, lastDraining time.Time
	for _, s := range samples {
		if s.ready == "503 draining" {
			if firstDraining.IsZero() {
				firstDraining = s.at
			}
			lastDraining = s.at
		}
	}
	if d := firstDraining.Sub(sigterm); d > time.Second {
		t.Errorf("/readyz turned 503 %v after SIGTERM, want at once", d)
	}
	if d := lastDraining.Sub(sigterm); d < drainDelay-200*time.Millisecond {
		t.Errorf("/readyz answered 503 draining only until %v after SIGTERM, want about drain_delay %v (the listener still open)", d, drainDelay)
	}
	// No invocation begun during drain_delay was refused or failed.
	var during int
	for _, c := range calls {
		if c.at.After(sigterm) && c.at.Before(sigterm.Add(drainDelay-300*time.Millisecond)) {
			during++
			if c.result != "204" {
				t.Errorf("an invocation %v after SIGTERM, within drain_delay: %s, want 204", c.at.Sub(sigterm), c.result)
			}
		}
	}
	if during < 10 {
		t.Errorf("only %d invocations during drain_delay, want a hammering", during)
	}
	for _, c := range calls {
		// Once drain_delay is over the listener closes: a connection the
		// kernel had queued but the node had not accepted is reset.
		if strings.HasPrefix(c.result, "error") && c.at.Before(sigterm.Add(drainDelay-300*time.Millisecond)) {
			t.Errorf("an invocation %v after SIGTERM: %s, want an answer", c.at.Sub(sigterm), c.result)
		}
	}
	p.log.waitLine(t, 0, time.Second, "not ready: serving on before draining", "drain_delay="+drainDelay.String())
	t.Logf("/readyz: %q; %d invocations during drain_delay", seq, during)
}

// setNodeLines replaces old by new in the config file at path, which must
// contain old.
func setNodeLines(t *testing.T, path string, pairs ...string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(s, pairs[i]) {
			t.Fatalf("%s has no %q:\n%s", path, pairs[i], s)
		}
		s = strings.Replace(s, pairs[i], pairs[i+1], 1)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// slowBody is a 16 MiB body ("0\n" then pattern bytes: hold holds 0 ms)
// sent in pieces slowly enough to be in flight for seconds; started is
// closed when its first piece has been read.
type slowBody struct {
	left    int
	first   bool
	started chan struct{}
}

func (b *slowBody) Read(p []byte) (int, error) {
	if b.left == 0 {
		return 0, io.EOF
	}
	if !b.first {
		b.first = true
		close(b.started)
		n := copy(p, "0\n")
		b.left -= n
		return n, nil
	}
	time.Sleep(50 * time.Millisecond)
	n := min(len(p), b.left, 64<<10) // ~1.3 MiB/s: 16 MiB takes ~13 s
	clear(p[:n])
	b.left -= n
	return n, nil
}

// waitInFlight polls the node at url until its rr_invocations_in_flight
// reaches n.
func waitInFlight(t *testing.T, url string, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(url + "/metrics")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if parseMetrics(body).sum("rr_invocations_in_flight") >= float64(n) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("rr_invocations_in_flight never reached %d (last error: %v)", n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var canceledRE = regexp.MustCompile(`drain: (\d+) invocations canceled`)

// TestDrainTimeoutAnswersEveryCaller: 20 uploads of 16 MiB in flight when
// drain_timeout (2s) runs out. Every caller gets an answer, 200/204 or
// 503 with Retry-After and the JSON error, never a reset connection; the
// node's summary counts as canceled exactly the 503s the drain caused.
func TestDrainTimeoutAnswersEveryCaller(t *testing.T) {
	tr := buildAll(t)
	dir := t.TempDir()
	config := nodeConfig{name: "d", maxPayload: "32MiB", functions: []fn{{name: "hold", module: "hold", pool: 4}}}.write(t, tr, dir)
	setNodeLines(t, config, "drain_timeout: 10s", "drain_timeout: 2s")
	p := startProc(t, tr, config)
	waitReady(t, p)

	const callers, size = 20, 16 << 20
	type result struct {
		status     int
		body       string
		retryAfter string
		err        error
	}
	results := make(chan result, callers)
	var started []chan struct{}
	for range callers {
		b := &slowBody{left: size, started: make(chan struct{})}
		started = append(started, b.started)
		go func() {
			req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, p.url+"/v1/functions/hold", b)
			if err != nil {
				results <- result{err: err}
				return
			}
			req.ContentLength = size
			resp, err := noKeepAlive().Do(req)
			if err != nil {
				results <- result{err: err}
				return
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			results <- result{status: resp.StatusCode, body: string(body), retryAfter: resp.Header.Get("Retry-After"), err: err}
		}()
	}
	for _, s := range started {
		<-s
	}
	// Wait until the node says all the invocations have begun
	// (rr_invocations_in_flight): one that began after SIGTERM would be
	// refused with 503 "node is shutting down", counted apart.
	waitInFlight(t, p.url, callers)
	mark := p.log.mark()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var drained503, refused503, ok int
	for range callers {
		r := <-results
		switch {
		case r.err != nil:
			t.Errorf("a caller got no answer: %v", r.err)
		case r.status == http.StatusServiceUnavailable && strings.Contains(r.body, `"error":"node is shutting down: canceled"`):
			refused503++ // arrived after SIGTERM: refused, not canceled
			if r.retryAfter == "" {
				t.Errorf("503 without Retry-After: %s", r.body)
			}
		case r.status == http.StatusServiceUnavailable:
			if !strings.Contains(r.body, `"error":"node shutting down: drain_timeout ran out before the invocation finished"`) || !strings.Contains(r.body, `"label":"canceled"`) || r.retryAfter == "" {
				t.Errorf("503 without the drain's JSON error or Retry-After (%q): %s", r.retryAfter, r.body)
			}
			drained503++
		case r.status == http.StatusOK || r.status == http.StatusNoContent:
			ok++
		default:
			t.Errorf("a caller got %d: %s", r.status, r.body)
		}
	}
	p.wait(t, time.Minute)
	out := p.log.since(mark)
	m := canceledRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no summary with the canceled count after SIGTERM:\n%s", out)
	}
	if n, _ := strconv.Atoi(m[1]); n != drained503 {
		t.Errorf("the summary says %d invocations canceled, the callers got %d 503s from the drain (and %d answers)", n, drained503, ok)
	}
	if drained503 == 0 {
		t.Error("no caller was cut by the drain: the uploads were not in flight")
	}
	if strings.Contains(out, "level=INFO msg=\"invocation failed\"") && strings.Contains(out, "status=400") {
		t.Errorf("the node logged the drain's cancellations as client errors:\n%s", out)
	}
	t.Logf("%d callers: %d answered 503 by the drain, %d refused as they came after SIGTERM, %d served", callers, drained503, refused503, ok)
}

// waitReady waits until p's /readyz answers 200.
func waitReady(t *testing.T, p *procNode) {
	t.Helper()
	c := noKeepAlive()
	deadline := time.Now().Add(2 * time.Minute)
	for probeState(c, p.url+"/readyz") != "200 ok" {
		select {
		case <-p.exited:
			t.Fatalf("rrnode exited while starting:\n%s", p.log.tail(4<<10))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("not ready within 2m")
		}
	}
}
