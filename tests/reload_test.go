package tests

// Reloading a running node's config (rrnode start: SIGHUP, and the watch
// of the config file): functions added, replaced and removed under a
// client's load, invalid configs that change nothing, a Kubernetes
// ConfigMap's symlink swap, a field that needs a restart, the directory a
// peer sees, and (RR_RELOAD_LATENCY=1) the latency a client sees during
// reloads against steady state.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/internal/nodeproc"
	"github.com/roadrunner-wasm/roadrunner/internal/testdns"
	"github.com/roadrunner-wasm/roadrunner/node"
)

// reloadLatencyEnv turns on TestReloadLatency, a measurement.
const reloadLatencyEnv = "RR_RELOAD_LATENCY"

// reloadRig is a node whose config file a test rewrites.
type reloadRig struct {
	*rnode
	tr    tree
	path  string // the config file the node reads
	stage string // where a new version is written before its rename over path
}

// startReloadRig writes c into a temporary directory and starts a node on
// it with args.
func startReloadRig(t *testing.T, tr tree, c nodeConfig, args ...string) *reloadRig {
	t.Helper()
	dir := t.TempDir()
	path := c.write(t, tr, dir)
	return &reloadRig{rnode: launch(t, tr, c.name, path, launchOpts{args: args}), tr: tr, path: path, stage: t.TempDir()}
}

// rewrite replaces the config file with c, atomically: written beside,
// then renamed over it (same file system: both are under the test's
// temporary directory).
func (r *reloadRig) rewrite(t *testing.T, c nodeConfig) {
	t.Helper()
	tmp := c.write(t, r.tr, r.stage)
	if err := os.Rename(tmp, r.path); err != nil {
		t.Fatal(err)
	}
}

// rewriteRaw replaces the config file with content, atomically.
func (r *reloadRig) rewriteRaw(t *testing.T, content string) {
	t.Helper()
	tmp := filepath.Join(r.stage, "raw.yaml")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, r.path); err != nil {
		t.Fatal(err)
	}
}

// hup sends the node SIGHUP.
func (r *reloadRig) hup(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(r.PID(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}

// reloads is the node's rr_config_reloads_total{result}.
func reloads(t *testing.T, n *rnode, result string) float64 {
	t.Helper()
	return n.metrics(t).get("rr_config_reloads_total", `result="`+result+`"`)
}

// waitReloads waits until rr_config_reloads_total{result} reaches want.
func waitReloads(t *testing.T, n *rnode, result string, want float64) {
	t.Helper()
	waitForCond(t, 60*time.Second, fmt.Sprintf("node %s: rr_config_reloads_total{result=%q} = %v", n.name, result, want), func() bool {
		got := reloads(t, n, result)
		if got > want {
			t.Fatalf("node %s: rr_config_reloads_total{result=%q} = %v, past %v: a reload too many", n.name, result, got, want)
		}
		return got == want
	})
}

// waitStatus polls POST function with payload until it answers status.
func waitStatus(t *testing.T, n *rnode, function string, payload []byte, status int) answer {
	t.Helper()
	var a answer
	waitForCond(t, 60*time.Second, fmt.Sprintf("node %s: POST %s answers %d", n.name, function, status), func() bool {
		a = n.invoke(t, function, payload)
		return a.status == status
	})
	return a
}

// checkGone checks a's a clean 404 for function: the JSON error body,
// unknown_function.
func checkGone(t *testing.T, a answer, function string) {
	t.Helper()
	if a.status != http.StatusNotFound {
		t.Fatalf("POST %s: status %d %q, want 404", function, a.status, a.body)
	}
	if e := a.errorBody(t); e.Label != "unknown_function" || e.Code != -2 || !strings.Contains(e.Error, function) {
		t.Fatalf("POST %s: 404 with %+v, want unknown_function -2 naming it", function, e)
	}
}

// A client's load: goroutines invoking one function in a loop, each with
// its payload size, checking each reply. A call that fails is recorded as
// it was seen.

type loadCall struct {
	start, end time.Time
	status     int    // 0: no answer
	err        string // the client's error, a wrong reply, or the 404's body when not clean
	gone       bool   // a clean 404 for the function
}

type loadGen struct {
	function string
	sizes    []int
	stop     chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex
	calls    [][]loadCall // per goroutine, in order
}

// startLoad starts one goroutine per size invoking function on n, each on
// its own connection.
func startLoad(t *testing.T, n *rnode, function string, sizes ...int) *loadGen {
	t.Helper()
	g := &loadGen{function: function, sizes: sizes, stop: make(chan struct{}), calls: make([][]loadCall, len(sizes))}
	for i, size := range sizes {
		payload := pattern(size)
		tr := &http.Transport{DialContext: n.DialContext, MaxIdleConnsPerHost: 1}
		client := &http.Client{Transport: tr}
		g.wg.Go(func() {
			defer tr.CloseIdleConnections()
			for {
				select {
				case <-g.stop:
					return
				default:
				}
				c := invokeOnce(client, n.URL(), function, payload)
				g.mu.Lock()
				g.calls[i] = append(g.calls[i], c)
				g.mu.Unlock()
			}
		})
	}
	t.Cleanup(g.halt)
	return g
}

// invokeOnce makes one call and checks its answer: the echo of payload.
func invokeOnce(client *http.Client, url, function string, payload []byte) loadCall {
	c := loadCall{start: time.Now()}
	defer func() { c.end = time.Now() }()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/functions/"+function, bytes.NewReader(payload))
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := client.Do(req)
	if err != nil {
		c.err = err.Error()
		c.end = time.Now()
		return c
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	c.end, c.status = time.Now(), resp.StatusCode
	switch {
	case err != nil:
		c.err = "read the answer: " + err.Error()
	case resp.StatusCode == http.StatusOK && !bytes.Equal(body, payload):
		c.err = fmt.Sprintf("a wrong reply: %d bytes, want the %d sent", len(body), len(payload))
	case resp.StatusCode == http.StatusOK && resp.Trailer.Get("Rr-Error") != "":
		c.err = "Rr-Error " + resp.Trailer.Get("Rr-Error")
	case resp.StatusCode == http.StatusNotFound:
		var e errorBody
		if jerr := json.Unmarshal(body, &e); jerr == nil && e.Label == "unknown_function" && e.Code == -2 && strings.Contains(e.Error, function) {
			c.gone = true
		} else {
			c.err = fmt.Sprintf("a 404 that is not the JSON unknown_function: %q", body)
		}
	case resp.StatusCode != http.StatusOK:
		c.err = fmt.Sprintf("%s: %q", resp.Status, body)
	}
	return c
}

// waitOK waits until every goroutine has had k more 200s than it had at mark.
func (g *loadGen) waitOK(t *testing.T, k int, what string) {
	t.Helper()
	base := g.oks()
	waitForCond(t, 60*time.Second, what, func() bool {
		now := g.oks()
		for i := range now {
			if now[i] < base[i]+k {
				return false
			}
		}
		return true
	})
}

func (g *loadGen) oks() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := make([]int, len(g.calls))
	for i, cs := range g.calls {
		for _, c := range cs {
			if c.status == http.StatusOK && c.err == "" {
				n[i]++
			}
		}
	}
	return n
}

// waitGone waits until every goroutine has had a clean 404.
func (g *loadGen) waitGone(t *testing.T) {
	t.Helper()
	waitForCond(t, 60*time.Second, "every client sees the function gone", func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		for _, cs := range g.calls {
			if !slices.ContainsFunc(cs, func(c loadCall) bool { return c.gone }) {
				return false
			}
		}
		return true
	})
}

// halt stops the goroutines and waits for them.
func (g *loadGen) halt() {
	select {
	case <-g.stop:
	default:
		close(g.stop)
	}
	g.wg.Wait()
}

// check halts the load and checks every call: each a right 200, or, if
// removed, a run of right 200s then only clean 404s. It logs the counts.
func (g *loadGen) check(t *testing.T, removed bool) {
	t.Helper()
	g.halt()
	for i, cs := range g.calls {
		var ok, gone int
		for j, c := range cs {
			switch {
			case c.err != "":
				t.Errorf("%d B, call %d: %s", g.sizes[i], j, c.err)
			case c.gone && !removed:
				t.Errorf("%d B, call %d: 404: the function was not removed", g.sizes[i], j)
			case c.gone:
				gone++
			case gone > 0:
				t.Errorf("%d B, call %d: a 200 after a 404: the function came back", g.sizes[i], j)
			default:
				ok++
			}
		}
		t.Logf("%d B: %d calls, %d ok, %d clean 404s", g.sizes[i], len(cs), ok, gone)
		if ok == 0 {
			t.Errorf("%d B: no call succeeded", g.sizes[i])
		}
	}
}

// workFns are the functions of the reload tests' node: work, under load;
// idle, not.
func workFns(workModule string) []fn {
	return []fn{{name: "work", module: workModule, pool: 2}, {name: "idle", module: "echo"}}
}

// echoCopy is a second echo module, another file with the same code: a
// function moved to it is replaced.
func echoCopy(t *testing.T, tr tree) string {
	t.Helper()
	b, err := os.ReadFile(tr.wasm("echo"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tr.wasm("echo2"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return "echo2"
}

var loadSizes = []int{1 << 10, 1 << 20}

// TestReloadUnderLoad: functions added, replaced and removed while a
// client invokes work continuously (1 KiB and 1 MiB), the config
// rewritten atomically and seen by the file watch, or reloaded by SIGHUP
// with the watch off: no call fails, except those to work after its
// removal, which get a clean 404.
func TestReloadUnderLoad(t *testing.T) {
	tr := buildAll(t)
	echo2 := echoCopy(t, tr)
	for _, mode := range []string{"watch", "sighup"} {
		t.Run(mode, func(t *testing.T) {
			var args []string
			if mode == "sighup" {
				args = []string{"--watch-config=false"}
			}
			c := nodeConfig{name: "r-" + mode, functions: workFns("echo")}
			r := startReloadRig(t, tr, c, args...)
			applied := reloads(t, r.rnode, "applied")
			apply := func(t *testing.T, c nodeConfig) {
				t.Helper()
				r.rewrite(t, c)
				if mode == "sighup" {
					r.hup(t)
				}
				applied++
				waitReloads(t, r.rnode, "applied", applied)
			}

			t.Run("add", func(t *testing.T) {
				g := startLoad(t, r.rnode, "work", loadSizes...)
				g.waitOK(t, 3, "load under way")
				c.functions = append(workFns("echo"), fn{name: "added", module: "echo"})
				apply(t, c)
				waitStatus(t, r.rnode, "added", []byte("hello"), http.StatusOK)
				g.waitOK(t, 3, "load after the reload")
				g.check(t, false)
			})

			t.Run("replace", func(t *testing.T) {
				g := startLoad(t, r.rnode, "work", loadSizes...)
				g.waitOK(t, 3, "load under way")
				// Another module file.
				c.functions = append(workFns(echo2), fn{name: "added", module: "echo"})
				apply(t, c)
				g.waitOK(t, 3, "load after the module's change")
				// Other settings: pool and max_payload.
				c.functions[0].pool, c.functions[0].maxPayload = 3, "2MiB"
				apply(t, c)
				g.waitOK(t, 3, "load after the settings' change")
				g.check(t, false)
				// The new max_payload is in force.
				if a := r.invoke(t, "work", pattern(3<<20)); a.status != http.StatusRequestEntityTooLarge {
					t.Errorf("3 MiB to work after max_payload: 2MiB: status %d %q, want 413", a.status, a.body)
				}
			})

			t.Run("remove idle", func(t *testing.T) {
				g := startLoad(t, r.rnode, "work", loadSizes...)
				g.waitOK(t, 3, "load under way")
				c.functions = slices.DeleteFunc(slices.Clone(c.functions), func(f fn) bool { return f.name == "idle" })
				apply(t, c)
				checkGone(t, r.invoke(t, "idle", []byte("x")), "idle")
				g.waitOK(t, 3, "load after the reload")
				g.check(t, false)
			})

			t.Run("remove work", func(t *testing.T) {
				g := startLoad(t, r.rnode, "work", loadSizes...)
				g.waitOK(t, 3, "load under way")
				c.functions = slices.DeleteFunc(slices.Clone(c.functions), func(f fn) bool { return f.name == "work" })
				apply(t, c)
				g.waitGone(t)
				g.check(t, true)
				if a := r.invoke(t, "added", []byte("still here")); a.status != http.StatusOK || string(a.body) != "still here" {
					t.Errorf("added after work's removal: %d %q", a.status, a.body)
				}
			})
		})
	}
}

// TestReloadInvalid: a config that does not parse, one naming a module
// file that does not exist, and one whose module is not Wasm change
// nothing: the functions answer as before, the reload is counted invalid
// or failed, and the node logs the error.
func TestReloadInvalid(t *testing.T) {
	tr := buildAll(t)
	c := nodeConfig{name: "inv", functions: workFns("echo")}
	r := startReloadRig(t, tr, c)
	notWasm := filepath.Join(t.TempDir(), "notwasm.wasm")
	if err := os.WriteFile(notWasm, []byte("this is not a WebAssembly module\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(r.path)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct {
		name, content, result string
		log                   []string // words of the node's error line
	}{
		{"yaml", "functions: [\n  - name: work\n", "invalid", []string{"level=ERROR", "yaml"}},
		{"missing module", string(good) + "  - name: ghost\n    module: " + filepath.Join(t.TempDir(), "nosuch.wasm") + "\n", "invalid", []string{"level=ERROR", "nosuch.wasm"}},
		{"not wasm", string(good) + "  - name: ghost\n    module: " + notWasm + "\n", "failed", []string{"level=ERROR", "ghost"}},
	} {
		t.Run(bad.name, func(t *testing.T) {
			before := reloads(t, r.rnode, bad.result)
			applied := reloads(t, r.rnode, "applied")
			mark := r.log.mark()
			r.rewriteRaw(t, bad.content)
			waitReloads(t, r.rnode, bad.result, before+1)
			r.log.waitLine(t, mark, 10*time.Second, bad.log...)
			if got := reloads(t, r.rnode, "applied"); got != applied {
				t.Errorf("rr_config_reloads_total{result=\"applied\"} went from %v to %v", applied, got)
			}
			for _, f := range []string{"work", "idle"} {
				if a := r.invoke(t, f, []byte("hi")); a.status != http.StatusOK || string(a.body) != "hi" {
					t.Errorf("%s after the bad reload: %d %q", f, a.status, a.body)
				}
			}
			checkGone(t, r.invoke(t, "ghost", []byte("x")), "ghost")
		})
	}
	// The good config back: the content the node runs, so nothing to
	// apply (unchanged), and a change after that applies.
	unchanged := reloads(t, r.rnode, "unchanged")
	r.rewriteRaw(t, string(good))
	waitReloads(t, r.rnode, "unchanged", unchanged+1)
	applied := reloads(t, r.rnode, "applied")
	c.functions = append(c.functions, fn{name: "later", module: "echo"})
	r.rewrite(t, c)
	waitReloads(t, r.rnode, "applied", applied+1)
	waitStatus(t, r.rnode, "later", []byte("x"), http.StatusOK)
}

// TestReloadConfigMap: the node reads dir/config.yaml of a directory laid
// out as the kubelet mounts a ConfigMap (config.yaml -> ..data/config.yaml,
// ..data -> ..TIMESTAMP); an update swaps ..data and removes the old
// directory: the node reloads once and the new function answers.
func TestReloadConfigMap(t *testing.T) {
	tr := buildAll(t)
	dir, stage := t.TempDir(), t.TempDir()
	c := nodeConfig{name: "cm", functions: []fn{{name: "first", module: "echo"}}}
	gen := 0
	// version writes c as a new timestamped directory of dir.
	version := func(c nodeConfig) string {
		gen++
		ts := fmt.Sprintf("..2026_12_07_10_00_%02d.%d", gen, 4000+gen)
		if err := os.Mkdir(filepath.Join(dir, ts), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(c.write(t, tr, stage), filepath.Join(dir, ts, "config.yaml")); err != nil {
			t.Fatal(err)
		}
		return ts
	}
	ts := version(c)
	if err := os.Symlink(ts, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "config.yaml")
	if err := os.Symlink(filepath.Join("..data", "config.yaml"), config); err != nil {
		t.Fatal(err)
	}
	n := launch(t, tr, "cm", config, launchOpts{})
	applied := reloads(t, n, "applied")
	unchanged := reloads(t, n, "unchanged")

	c.functions = append(c.functions, fn{name: "second", module: "echo"})
	old := ts
	ts = version(c)
	if err := os.Symlink(ts, filepath.Join(dir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, old)); err != nil {
		t.Fatal(err)
	}
	waitReloads(t, n, "applied", applied+1)
	if a := n.invoke(t, "second", []byte("hi")); a.status != http.StatusOK || string(a.body) != "hi" {
		t.Fatalf("second after the swap: %d %q", a.status, a.body)
	}
	if a := n.invoke(t, "first", []byte("hi")); a.status != http.StatusOK {
		t.Fatalf("first after the swap: %d %q", a.status, a.body)
	}
	// The swap reloaded once: no reload came of the old directory's
	// removal, nor counted as unchanged.
	if got := reloads(t, n, "applied"); got != applied+1 {
		t.Errorf("%v reloads applied, want 1", got-applied)
	}
	if got := reloads(t, n, "unchanged"); got != unchanged {
		t.Errorf("%v reloads unchanged after the swap, want none: the watch reloaded on an event that changed nothing", got-unchanged)
	}
}

// TestReloadNeedsRestart: a change to node.listen.tcp (a listener: taken
// only at start) with a function added: the function is applied, the
// field reported. (node.http would be the same, but nodeproc's --http
// overrides it, at start and at every reload alike.)
func TestReloadNeedsRestart(t *testing.T) {
	tr := buildAll(t)
	c := nodeConfig{name: "rs", functions: []fn{{name: "first", module: "echo"}}}
	r := startReloadRig(t, tr, c)
	applied := reloads(t, r.rnode, "applied")
	mark := r.log.mark()
	c.listenTCP = "127.0.0.1:0"
	c.functions = append(c.functions, fn{name: "second", module: "echo"})
	r.rewrite(t, c)
	waitReloads(t, r.rnode, "applied", applied+1)
	r.log.waitLine(t, mark, 10*time.Second, "level=WARN", "need a restart", "node.listen.tcp")
	r.log.waitLine(t, mark, 10*time.Second, `msg="config reloaded"`, "second")
	waitStatus(t, r.rnode, "second", []byte("hi"), http.StatusOK)
	if strings.Contains(r.log.since(0), "path=tcp") {
		t.Errorf("the node listens on tcp after the reload: a listener must wait for a restart")
	}
}

// TestReloadSignals: SIGHUP while the node starts and while it drains is
// logged and ignored, and does not kill it (Go's default for SIGHUP).
func TestReloadSignals(t *testing.T) {
	tr := buildAll(t)
	dir := t.TempDir()
	config := nodeConfig{name: "sig", functions: []fn{{name: "hold", module: "hold"}}}.write(t, tr, dir)

	t.Run("starting", func(t *testing.T) {
		p := startPaused(t, tr, config, "engine")
		waitLineOrExit(t, p.log, p.exited, `msg="start-up paused"`, "stage=engine")
		if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitLineOrExit(t, p.log, p.exited, "reload ignored", "starting", "trigger=SIGHUP")
		p.stop(t, "SIGHUP then SIGTERM while starting")
	})

	t.Run("draining", func(t *testing.T) {
		n := launch(t, tr, "sig", config, launchOpts{})
		// An invocation held for 10 s keeps the drain going while SIGHUP
		// comes: the hold is the margin for sending it after "shutting
		// down" (the guest's sleep cannot be cut short; 10 s, not 3, for
		// a loaded machine).
		held := make(chan answer, 1)
		go func() {
			resp, err := n.Client().Post(n.URL()+"/v1/functions/hold", "application/octet-stream", strings.NewReader("10000\n"))
			if err != nil {
				held <- answer{body: []byte(err.Error())}
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			held <- answer{status: resp.StatusCode, body: body}
		}()
		n.log.waitLine(t, 0, 30*time.Second, "hold: 6 bytes, holding 10000 ms")
		type stopped struct {
			status int
			err    error
		}
		stop := make(chan stopped, 1)
		go func() { s, err := n.Stop(); stop <- stopped{s, err} }() // SIGTERM, then the wait
		n.log.waitLine(t, 0, 30*time.Second, "shutting down")
		if err := syscall.Kill(n.PID(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		n.log.waitLine(t, 0, 30*time.Second, "reload ignored", "draining", "trigger=SIGHUP")
		if a := <-held; a.status != http.StatusNoContent { // hold replies nothing
			t.Errorf("the held invocation: %d %q, want 204", a.status, a.body)
		}
		if s := <-stop; s.status != 0 || s.err != nil {
			t.Fatalf("rrnode after SIGHUP while draining: exit status %d: %v", s.status, s.err)
		}
	})
}

// TestReloadDirectory: two nodes that found each other through a real
// DNS server (loopback addresses 127.0.0.2 and .3, one port). A function
// added to b by a reload shows in a's directory for b, and a's relay
// reaches it; removed, a's directory drops it and the relay's send finds
// no such function.
func TestReloadDirectory(t *testing.T) {
	tr := buildAll(t)
	dns := testdns.Start(t)
	const name = "reload.rr.test"
	dns.Set(name, netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3"))
	port, err := nodeproc.FreePort("127.0.0.2", "127.0.0.3")
	if err != nil {
		t.Fatal(err)
	}
	cluster := fmt.Sprintf("cluster:\n  dns: %s\n  port: %d\n  refresh: 1m\n  resolver: %s\n", name, port, dns.Addr())
	dir := t.TempDir()
	ca := nodeConfig{name: "a", listenTCP: fmt.Sprintf("127.0.0.2:%d", port), functions: []fn{{name: "relay", module: "relay"}}, extra: cluster}
	cb := nodeConfig{name: "b", listenTCP: fmt.Sprintf("127.0.0.3:%d", port), functions: []fn{{name: "b-echo", module: "echo"}}, extra: cluster}
	a := &clusterNode{rnode: launch(t, tr, "a", ca.write(t, tr, dir), launchOpts{})}
	rb := &reloadRig{rnode: launch(t, tr, "b", cb.write(t, tr, dir), launchOpts{}), tr: tr, path: filepath.Join(dir, "b.yaml"), stage: t.TempDir()}
	b := &clusterNode{rnode: rb.rnode}
	a.waitDirectory(t, "saw b up with b-echo", func(v node.ClusterView) bool {
		p, ok := peerIn(v, "b")
		return ok && p.State == node.StateUp && slices.Equal(p.Functions, []string{"b-echo"})
	})
	b.waitDirectory(t, "saw a up", func(v node.ClusterView) bool { return upWith(v, "a", "tcp") })
	if a := a.invoke(t, "relay", []byte("send fresh\nhello")); a.status != http.StatusOK || string(a.body) != "-2" {
		t.Fatalf("relay's send to fresh before b has it: %d %q, want -2 (unknown function)", a.status, a.body)
	}

	applied := reloads(t, b.rnode, "applied")
	cb.functions = append(cb.functions, fn{name: "fresh", module: "echo"})
	rb.rewrite(t, cb)
	waitReloads(t, b.rnode, "applied", applied+1)
	took := a.waitDirectory(t, "saw fresh on b", func(v node.ClusterView) bool {
		p, ok := peerIn(v, "b")
		return ok && slices.Contains(p.Functions, "fresh")
	})
	t.Logf("fresh in a's directory %v after b applied the reload (refresh 1m: b's push)", took.Round(time.Millisecond))
	if r := a.invoke(t, "relay", []byte("forward fresh\nhello")); r.status != http.StatusOK || string(r.body) != "hello" {
		t.Fatalf("relay on a forwarding to fresh on b: %d %q, want 200 hello", r.status, r.body)
	}

	cb.functions = cb.functions[:1]
	rb.rewrite(t, cb)
	waitReloads(t, b.rnode, "applied", applied+2)
	a.waitDirectory(t, "dropped fresh from b", func(v node.ClusterView) bool {
		p, ok := peerIn(v, "b")
		return ok && p.State == node.StateUp && !slices.Contains(p.Functions, "fresh")
	})
	if r := a.invoke(t, "relay", []byte("send fresh\nhello")); r.status != http.StatusOK || string(r.body) != "-2" {
		t.Fatalf("relay's send to fresh after b removed it: %d %q, want -2 (unknown function)", r.status, r.body)
	}
}

// TestReloadLatency measures what a client sees: p50/p99 of the 1 KiB and
// 1 MiB invocations in steady state, then while work is replaced by five
// reloads in a row, side by side. A measurement (RR_RELOAD_LATENCY=1); it
// fails only if a call fails.
func TestReloadLatency(t *testing.T) {
	if os.Getenv(reloadLatencyEnv) == "" {
		t.Skipf("a measurement: set %s=1", reloadLatencyEnv)
	}
	tr := buildAll(t)
	echo2 := echoCopy(t, tr)
	c := nodeConfig{name: "lat", functions: workFns("echo")}
	r := startReloadRig(t, tr, c)
	// Warm: both modules compiled into the cache, connections made.
	g := startLoad(t, r.rnode, "work", loadSizes...)
	g.waitOK(t, 20, "warm-up")
	g.check(t, false)

	g = startLoad(t, r.rnode, "work", loadSizes...)
	steadyFrom := time.Now()
	time.Sleep(5 * time.Second) // a measurement window, not a wait for a state
	steadyTo := time.Now()
	applied := reloads(t, r.rnode, "applied")
	reloadFrom := time.Now()
	modules := []string{echo2, "echo"}
	for i := range 5 {
		c.functions = workFns(modules[i%2])
		r.rewrite(t, c)
		applied++
		waitReloads(t, r.rnode, "applied", applied)
	}
	reloadTo := time.Now()
	g.check(t, false)

	t.Logf("steady %v, 5 reloads replacing work in %v", steadyTo.Sub(steadyFrom).Round(time.Millisecond), reloadTo.Sub(reloadFrom).Round(time.Millisecond))
	t.Logf("%-8s %-8s %8s %10s %10s", "size", "phase", "calls", "p50", "p99")
	for i, size := range g.sizes {
		for _, ph := range []struct {
			name     string
			from, to time.Time
		}{{"steady", steadyFrom, steadyTo}, {"reload", reloadFrom, reloadTo}} {
			var d []time.Duration
			for _, call := range g.calls[i] {
				if !call.start.Before(ph.from) && !call.start.After(ph.to) {
					d = append(d, call.end.Sub(call.start))
				}
			}
			if len(d) == 0 {
				t.Errorf("%d B: no call in the %s window", size, ph.name)
				continue
			}
			slices.Sort(d)
			t.Logf("%-8s %-8s %8d %10v %10v", sizeName(size), ph.name, len(d), percentile(d, 50), percentile(d, 99))
		}
	}
}

func percentile(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	return sorted[max(0, min(len(sorted)-1, i-1))].Round(time.Microsecond)
}

func sizeName(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dKiB", n>>10)
}
