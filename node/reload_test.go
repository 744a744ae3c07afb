package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/internal/testdns"
	"github.com/roadrunner-wasm/roadrunner/internal/wasmbuild"
	"github.com/roadrunner-wasm/roadrunner/node"
	"github.com/roadrunner-wasm/roadrunner/transport"
)

// reload rewrites n's config file with config and reloads it as rrnode
// start does: LoadConfig of the file.
func (n *testNode) reload(t *testing.T, config string) (*node.ReloadReport, error) {
	t.Helper()
	writeNodeConfig(t, n.config, config)
	return n.Reload(context.Background(), func() (*node.Config, error) { return node.LoadConfig(n.config) })
}

const reloadBase = `
node:
  max_payload: 4MiB
  cache_dir: {{cache}}
functions:
  - {name: echo, module: {{echo}}, pool: 2}
  - {name: counter, module: {{counter}}, pool: 1, max_payload: 1KiB}
`

// loadClient invokes a function without pause, one body size per
// goroutine, and tallies what came back: each reply must be the body
// (echo), each failure is kept.
type loadClient struct {
	n        *testNode
	ok       atomic.Int64
	notFound atomic.Int64 // 404 with the JSON error body of an unknown function
	mu       sync.Mutex
	failures []string
	stop     chan struct{}
	wg       sync.WaitGroup
}

func startLoad(t *testing.T, n *testNode, name string, sizes ...int) *loadClient {
	c := &loadClient{n: n, stop: make(chan struct{})}
	for _, size := range sizes {
		body := pattern(size)
		c.wg.Go(func() {
			for {
				select {
				case <-c.stop:
					return
				default:
				}
				c.once(name, body)
			}
		})
	}
	t.Cleanup(c.end)
	return c
}

func (c *loadClient) once(name string, body []byte) {
	resp, err := client.Post(c.n.url+"/v1/functions/"+name, "application/octet-stream", bytes.NewReader(body))
	if err != nil {
		c.fail("post: %v", err)
		return
	}
	defer resp.Body.Close()
	var got bytes.Buffer
	if _, err := got.ReadFrom(resp.Body); err != nil {
		c.fail("read the answer: %v", err)
		return
	}
	switch {
	case resp.StatusCode == http.StatusOK && bytes.Equal(got.Bytes(), body):
		c.ok.Add(1)
	case resp.StatusCode == http.StatusNotFound:
		var e node.ErrorBody
		if err := json.Unmarshal(got.Bytes(), &e); err != nil || e.Label != "unknown_function" {
			c.fail("404 with body %q", got.Bytes())
			return
		}
		c.notFound.Add(1)
	default:
		c.fail("%d bytes: status %d, %d bytes back: %.200q", len(body), resp.StatusCode, got.Len(), got.Bytes())
	}
}

func (c *loadClient) fail(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.failures) < 20 {
		c.failures = append(c.failures, fmt.Sprintf(format, args...))
	}
}

// waitOK waits until k more invocations succeeded.
func (c *loadClient) waitOK(t *testing.T, k int64) {
	t.Helper()
	target := c.ok.Load() + k
	waitFor(t, func() bool { return c.ok.Load() >= target }, fmt.Sprintf("%d more successful invocations", k))
}

func (c *loadClient) end() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	c.wg.Wait()
}

func (c *loadClient) failed() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.failures)
}

// TestReloadUnderLoad: while a client invokes echo without pause (1 KiB
// and 1 MiB), a reload adds a function, replaces echo (its pool, then its
// module's bytes), removes another, then removes echo: not one invocation
// fails, but those sent after echo's removal, which get a clean 404.
func TestReloadUnderLoad(t *testing.T) {
	n := startNode(t, reloadBase, nil)
	big := 1 << 20
	if raceEnabled {
		big = 64 << 10 // the race detector makes each MiB cost ~100 ms; tests/ runs 1 MiB without it
	}
	load := startLoad(t, n, "echo", 1<<10, big)
	load.waitOK(t, 20)

	// Add.
	r, err := n.reload(t, reloadBase+"  - {name: echo2, module: {{echo}}, pool: 1}\n")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Added, []string{"echo2"}) || len(r.Replaced)+len(r.Removed) > 0 || len(r.Restart) > 0 {
		t.Errorf("add: report %+v", r)
	}
	if resp := n.invoke(t, "echo2", []byte("new")); resp.status != http.StatusOK || string(resp.body) != "new" {
		t.Errorf("echo2 after its reload: %d %q", resp.status, resp.body)
	}
	load.waitOK(t, 20)

	// Replace the function under load: its settings.
	cfg := strings.Replace(reloadBase, "pool: 2", "pool: 3", 1) + "  - {name: echo2, module: {{echo}}, pool: 1}\n"
	if r, err = n.reload(t, cfg); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Replaced, []string{"echo"}) || len(r.Added)+len(r.Removed) > 0 {
		t.Errorf("replace: report %+v", r)
	}
	waitFor(t, func() bool { return n.metric(t, `rr_function_pool_size{function="echo"}`) == 3 }, "echo's pool of 3, the old version closed")
	load.waitOK(t, 20)

	// Replace its module's bytes under the same path: a copy of echo
	// rewritten (the same code: the load goes on checking the replies).
	dir := t.TempDir()
	mod := filepath.Join(dir, "echo.wasm")
	echo, err := os.ReadFile(wasmbuild.ForTest(t, testdata+"echo"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mod, echo, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg = strings.Replace(cfg, "{name: echo, module: {{echo}}", "{name: echo, module: "+mod, 1)
	if r, err = n.reload(t, cfg); err != nil || !slices.Equal(r.Replaced, []string{"echo"}) {
		t.Fatalf("echo from %s: %+v, %v", mod, r, err)
	}
	load.waitOK(t, 20)
	// The same bytes again: nothing to do.
	if r, err = n.reload(t, cfg); err != nil || r.Changed() {
		t.Fatalf("same config again: %+v, %v", r, err)
	}
	// Other bytes (a custom section appended: a valid module, another
	// hash): replaced.
	if err := os.WriteFile(mod, append(slices.Clone(echo), 0, 3, 1, 'x', 0), 0o644); err != nil {
		t.Fatal(err)
	}
	if r, err = n.reload(t, cfg); err != nil || !slices.Equal(r.Replaced, []string{"echo"}) {
		t.Fatalf("echo's module rewritten: %+v, %v", r, err)
	}
	load.waitOK(t, 20)

	// Remove another function.
	cfg = strings.Replace(cfg, "  - {name: counter, module: {{counter}}, pool: 1, max_payload: 1KiB}\n", "", 1)
	if r, err = n.reload(t, cfg); err != nil || !slices.Equal(r.Removed, []string{"counter"}) {
		t.Fatalf("remove counter: %+v, %v", r, err)
	}
	if resp := n.invoke(t, "counter", []byte("count")); resp.status != http.StatusNotFound {
		t.Errorf("counter after its removal: %d %q", resp.status, resp.body)
	}
	load.waitOK(t, 20)
	if f := load.failed(); len(f) > 0 || load.notFound.Load() > 0 {
		t.Fatalf("before echo's removal: %d failed, %d not found: %q", len(f), load.notFound.Load(), f)
	}

	// Remove the function under load.
	okBefore := load.ok.Load()
	cfg = strings.Replace(cfg, "  - {name: echo, module: "+mod+", pool: 3}\n", "", 1)
	if r, err = n.reload(t, cfg); err != nil || !slices.Equal(r.Removed, []string{"echo"}) {
		t.Fatalf("remove echo: %+v, %v", r, err)
	}
	waitFor(t, func() bool { return load.notFound.Load() >= 10 }, "404s for the removed echo")
	okAfter := load.ok.Load()
	load.end()
	// Invocations that began before the removal finish: at most one per
	// client goroutine may end after the reload returned.
	if late := load.ok.Load() - okAfter; late > 2 {
		t.Errorf("%d invocations of echo succeeded after its removal took effect", late)
	}
	if f := load.failed(); len(f) > 0 {
		t.Errorf("%d invocations failed other than with 404: %q", len(f), f)
	}
	t.Logf("%d invocations succeeded (%d after the last reload before echo's removal), %d got 404", load.ok.Load(), okAfter-okBefore, load.notFound.Load())
	for _, series := range []string{`rr_config_reloads_total{result="applied"}`, `rr_config_reloads_total{result="unchanged"}`} {
		if v := n.metric(t, series); v < 1 {
			t.Errorf("%s = %v", series, v)
		}
	}
	// The removed echo closes when its last delivery ends, on a goroutine
	// of its own: its pool's series go then.
	waitFor(t, func() bool { return n.metric(t, `rr_function_pool_size{function="echo"}`) == -1 }, "the removed echo's rr_function_pool_size gone")
	if v := n.metric(t, `rr_function_invocations_total{function="echo",result="ok"}`); v != -1 {
		t.Errorf("the removed echo still has rr_function_invocations_total %v", v)
	}
	// The closed versions said so.
	waitFor(t, func() bool {
		return strings.Count(n.logs.String(), `"msg":"function closed","function":"echo"`) == 4
	}, "echo closed 4 times (three versions replaced, the last removed)")
}

// TestReloadRefused: a configuration that does not parse, one that names
// a module that does not exist, one whose module does not compile and a
// load error change nothing; each is counted and logged.
func TestReloadRefused(t *testing.T) {
	n := startNode(t, reloadBase, nil)
	bad := filepath.Join(t.TempDir(), "bad.wasm")
	if err := os.WriteFile(bad, []byte("\x00asm\x01\x00\x00\x00garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, config, result, err string
	}{
		{"yaml", "functions: [", node.ReloadInvalid, "yaml"},
		{"missing module", "functions:\n  - {name: echo, module: /nonexistent/echo.wasm}\n", node.ReloadInvalid, "functions[0].module"},
		{"module does not compile", reloadBase + "  - {name: bad, module: " + bad + "}\n", node.ReloadFailed, "function bad: load"},
		{"unknown field", reloadBase + "  - {name: x, module: {{echo}}, pol: 1}\n", node.ReloadInvalid, "pol"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := n.metric(t, `rr_config_reloads_total{result="`+c.result+`"}`)
			r, err := n.reload(t, c.config)
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("reload: %+v, %v; want an error with %q", r, err, c.err)
			}
			if after := n.metric(t, `rr_config_reloads_total{result="`+c.result+`"}`); after != before+1 {
				t.Errorf("rr_config_reloads_total{result=%q} %v → %v", c.result, before, after)
			}
			if v := n.metric(t, "rr_config_last_reload_successful"); v != 0 {
				t.Errorf("rr_config_last_reload_successful = %v after a refused reload", v)
			}
			for _, f := range []string{"echo", "counter"} {
				body := []byte("count")
				if resp := n.invoke(t, f, body); resp.status != http.StatusOK {
					t.Errorf("%s after the refused reload: %d %q", f, resp.status, resp.body)
				}
			}
		})
	}
	if !strings.Contains(n.logs.String(), "config reload refused: nothing changed") {
		t.Error("no log line for the refused reloads")
	}
	// A load error of the caller's is refused the same way.
	if _, err := n.Reload(context.Background(), func() (*node.Config, error) { return nil, errors.New("no file") }); err == nil {
		t.Error("a load error was not returned")
	}
	// The next good one is applied.
	if _, err := n.reload(t, reloadBase); err != nil {
		t.Fatal(err)
	}
	if v := n.metric(t, "rr_config_last_reload_successful"); v != 1 {
		t.Errorf("rr_config_last_reload_successful = %v after a good reload", v)
	}
}

// TestReloadRestartFields: fields that apply only at a restart are
// reported (and kept); the rest of the reload is applied.
func TestReloadRestartFields(t *testing.T) {
	n := startNode(t, reloadBase, nil)
	cfg := strings.Replace(reloadBase, "  max_payload: 4MiB\n", "  max_payload: 4MiB\n  http: 127.0.0.1:1\n  invocation_timeout: 7s\n  listen: {max_conns: 700}\n", 1) +
		"  - {name: echo2, module: {{echo}}, pool: 1}\n"
	r, err := n.reload(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"node.http", "node.invocation_timeout", "node.listen.max_conns"}; !slices.Equal(r.Restart, want) || !slices.Equal(r.Added, []string{"echo2"}) {
		t.Errorf("report %+v, want %q to need a restart, echo2 added", r, want)
	}
	if got := n.Config().Node.HTTP; got == "127.0.0.1:1" {
		t.Error("node.http changed under the running node")
	}
	if v := n.metric(t, "rr_config_restart_pending"); v != 1 {
		t.Errorf("rr_config_restart_pending = %v", v)
	}
	if !strings.Contains(n.logs.String(), "config changes that need a restart") {
		t.Error("no log line naming the fields that need a restart")
	}
	if resp := n.invoke(t, "echo2", []byte("x")); resp.status != http.StatusOK {
		t.Errorf("echo2: %d %q", resp.status, resp.body)
	}
}

// TestReloadPeers: a static peer added by a reload takes sends; removed,
// its functions are unknown again.
func TestReloadPeers(t *testing.T) {
	back := startNode(t, `
node:
  cache_dir: {{cache}}
  listen: {unix: `+filepath.Join(t.TempDir(), "back.sock")+`}
functions:
  - {name: far, module: {{echo}}, pool: 1}
`, nil)
	serveUnix(t, back)
	front := startNode(t, `
node:
  cache_dir: {{cache}}
functions:
  - {name: relay, module: {{relay}}, pool: 2}
`, nil)
	relayTo := func(to string) *response {
		return front.invoke(t, "relay", []byte("forward "+to+"\nhello"))
	}
	if resp := relayTo("far"); resp.status == http.StatusOK {
		t.Fatalf("relay to far before the peer exists: %d %q", resp.status, resp.body)
	}
	withPeer := `
node:
  cache_dir: {{cache}}
functions:
  - {name: relay, module: {{relay}}, pool: 2}
peers:
  - {name: back, address: unix://` + back.Config().Node.Listen.Unix + `, functions: [far]}
`
	r, err := front.reload(t, withPeer)
	if err != nil || !r.Peers || r.Changed() != true {
		t.Fatalf("add the peer: %+v, %v", r, err)
	}
	if resp := relayTo("far"); resp.status != http.StatusOK {
		t.Fatalf("relay to far through the new peer: %d %q", resp.status, resp.body)
	}
	if v := front.metric(t, `rr_peer_connections{peer="back"}`); v < 1 {
		t.Errorf("rr_peer_connections{peer=back} = %v", v)
	}
	r, err = front.reload(t, strings.Split(withPeer, "peers:")[0])
	if err != nil || !r.Peers {
		t.Fatalf("remove the peer: %+v, %v", r, err)
	}
	if resp := relayTo("far"); resp.status == http.StatusOK {
		t.Errorf("relay to far after the peer was removed: %d %q", resp.status, resp.body)
	}
	if v := front.metric(t, `rr_peer_connections{peer="back"}`); v != -1 {
		t.Errorf("rr_peer_connections{peer=back} = %v after its removal", v)
	}
}

// TestReloadDirectory: the functions a node announces to its cluster
// follow a reload, and a peer routes to the new one.
func TestReloadDirectory(t *testing.T) {
	a, b := clusterPair(t)
	cfgB := strings.Replace(b.cfgText, "functions:\n", "functions:\n  - {name: b-new, module: {{echo}}, pool: 1}\n", 1)
	if _, err := b.reload(t, cfgB); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return hosts(a.Cluster(), "b", "b-new") }, "a sees b-new on b")
	if resp := a.invoke(t, "relay", []byte("forward b-new\nthrough the cluster")); resp.status != http.StatusOK {
		t.Errorf("a relays to b's new function: %d %q", resp.status, resp.body)
	}
	if _, err := b.reload(t, b.cfgText); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return !hosts(a.Cluster(), "b", "b-new") }, "a drops b-new")
	if resp := a.invoke(t, "relay", []byte("forward b-new\nthrough the cluster")); resp.status == http.StatusOK {
		t.Errorf("a relays to b's removed function: %d %q", resp.status, resp.body)
	}

	// The cluster section applies too: a name that resolves to no node
	// leaves a alone, the old one finds b again.
	r, err := a.reload(t, strings.Replace(a.cfgText, "dns: rr.test", "dns: empty.test", 1))
	if err != nil || !r.Cluster || len(r.Restart) > 0 {
		t.Fatalf("a's cluster.dns changed: %+v, %v", r, err)
	}
	waitFor(t, func() bool { return !upIn(a.Cluster(), "b") }, "a forgets b")
	if v := a.Cluster(); v.DNS == nil || v.DNS.Name != "empty.test" {
		t.Errorf("a's directory after the reload: %+v", v.DNS)
	}
	if r, err = a.reload(t, a.cfgText); err != nil || !r.Cluster {
		t.Fatalf("a's cluster.dns back: %+v, %v", r, err)
	}
	waitFor(t, func() bool { return hosts(a.Cluster(), "b", "b-echo") }, "a finds b again")
}

func hosts(v node.ClusterView, peer, fn string) bool {
	for _, p := range v.Peers {
		if p.Name == peer && p.State == node.StateUp && slices.Contains(p.Functions, fn) {
			return true
		}
	}
	return false
}

type clusterNode struct {
	*testNode
	cfgText string
}

// clusterPair starts nodes a and b, found through DNS, each serving tcp:
// a hosts relay, b echo.
func clusterPair(t *testing.T) (a, b *clusterNode) {
	srv := testdns.Start(t)
	srv.Set("rr.test", netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3"))
	dns := srv.Addr()
	port := freePort(t, "127.0.0.2", "127.0.0.3")
	cfg := func(name, ip, fns string) string {
		return fmt.Sprintf(`
node:
  name: %s
  cache_dir: {{cache}}
  listen: {tcp: '%s:%d'}
functions:
%scluster: {dns: rr.test, port: %d, resolver: '%s', refresh: 1m}
`, name, ip, port, fns, port, dns)
	}
	serve := func(n *testNode) {
		lns, err := n.Listen(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		go n.ServeTransport(transport.PathTCP, lns[transport.PathTCP])
	}
	ca := cfg("a", "127.0.0.2", "  - {name: relay, module: {{relay}}, pool: 2}\n")
	cb := cfg("b", "127.0.0.3", "  - {name: b-echo, module: {{echo}}, pool: 1}\n")
	a = &clusterNode{startNode(t, ca, nil), ca}
	serve(a.testNode)
	b = &clusterNode{startNode(t, cb, nil), cb}
	serve(b.testNode)
	waitFor(t, func() bool { return upIn(a.Cluster(), "b") && upIn(b.Cluster(), "a") }, "a and b up in each other's directory")
	return a, b
}
