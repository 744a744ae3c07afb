package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/internal/testdns"
	"github.com/roadrunner-wasm/roadrunner/internal/wasmbuild"
	"github.com/roadrunner-wasm/roadrunner/node"
)

// freePort returns a tcp port free a moment ago on the loopback address
// host. Nodes of the test listen on 127.0.0.7, where nothing else does.
func freePort(t *testing.T, host string) int {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// clusterConfig writes the config of a node named name hosting fn (the
// echo guest) with extra lines in its node section and after it.
func clusterConfig(t *testing.T, name, fn, nodeExtra, extra string) string {
	t.Helper()
	cfg := fmt.Sprintf(`
node:
  name: %s
  cache_dir: %s
  drain_delay: 0
%s
functions:
  - {name: %s, module: %s, pool: 1}
%s`, name, cacheDir, nodeExtra, fn, wasmbuild.ForTest(t, guests+"echo"), extra)
	path := filepath.Join(t.TempDir(), name+".yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCluster: rrnode cluster shows a node's directory, with a peer found
// through a real DNS server and a static one, as a table and as JSON. The
// peer found through DNS is on this host and names its unix socket: b
// reaches it there once the node behind the socket proved to be the same.
func TestCluster(t *testing.T) {
	dns := testdns.Start(t)
	dns.Set("peers.rr.test", netip.MustParseAddr("127.0.0.7"))
	port := freePort(t, "127.0.0.7")
	sock := filepath.Join(t.TempDir(), "s.sock")
	// a is behind the name; s is a static peer of b's; b finds a.
	sockA := filepath.Join(t.TempDir(), "a.sock")
	startNodeConfig(t, clusterConfig(t, "a", "fa", fmt.Sprintf("  listen: {tcp: '127.0.0.7:%d', unix: %s}", port, sockA), ""))
	startNodeConfig(t, clusterConfig(t, "s", "fs", fmt.Sprintf("  listen: {unix: %s}", sock), ""))
	b := startNodeConfig(t, clusterConfig(t, "b", "fb", "", fmt.Sprintf(`peers:
  - {name: s, address: 'unix://%s', functions: [fs]}
cluster: {dns: peers.rr.test, port: %d, resolver: '%s', refresh: 200ms}
`, sock, port, dns.Addr())))

	v := waitCluster(t, b, func(v *node.ClusterView) bool {
		for _, p := range v.Peers {
			if p.Name == "a" && p.State == node.StateUp && p.Path == "unix" {
				return true
			}
		}
		return false
	})
	if v.Node != "b" || v.Route != node.RouteNearest || len(v.Instance) != 32 || strings.Join(v.Functions, ",") != "fb" {
		t.Errorf("node: %+v", v)
	}
	if v.DNS == nil || v.DNS.Name != "peers.rr.test" || strings.Join(v.DNS.Addresses, ",") != fmt.Sprintf("tcp://127.0.0.7:%d", port) {
		t.Errorf("dns: %+v", v.DNS)
	}
	if len(v.Peers) != 2 {
		t.Fatalf("peers: %+v, want a and s", v.Peers)
	}
	a, s := v.Peers[0], v.Peers[1]
	if a.Name != "a" || a.Source != "dns" || a.Path != "unix" || a.Address != fmt.Sprintf("tcp://127.0.0.7:%d", port) ||
		!a.SameHost || len(a.Instance) != 32 || a.Generation != 1 || strings.Join(a.Functions, ",") != "fa" {
		t.Errorf("peer a: %+v", a)
	}
	if s.Name != "s" || s.Source != "static" || s.Path != "unix" || s.State != node.StateUp || strings.Join(s.Functions, ",") != "fs" {
		t.Errorf("peer s: %+v", s)
	}

	r := rrnode(t, "", "cluster", "--addr", b)
	if r.code != 0 {
		t.Fatalf("rrnode cluster exited %d: %s", r.code, r.err)
	}
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "node b ") || !strings.HasPrefix(lines[1], "dns peers.rr.test: 1 addresses") ||
		!strings.HasPrefix(lines[2], "NAME") {
		t.Fatalf("table:\n%s", r.out)
	}
	for i, want := range [][]string{{"a", "tcp://127.0.0.7:", "up", "unix", "same", "fa", "0"}, {"s", "unix://", "up", "unix", "same", "fs", "0"}} {
		f := strings.Fields(lines[3+i])
		if len(f) < len(want) {
			t.Fatalf("row %q", lines[3+i])
		}
		for j, w := range want {
			if !strings.HasPrefix(f[j], w) {
				t.Errorf("row %q: column %d is %q, want %q", lines[3+i], j, f[j], w)
			}
		}
	}
	if r := rrnode(t, "", "cluster", "--addr", b, "-o", "yaml"); r.code != 2 || !strings.Contains(r.err, `--output "yaml": want table or json`) {
		t.Errorf("--output yaml: exit %d, %s", r.code, r.err)
	}
}

// waitCluster polls rrnode cluster --output json at addr until ok says
// the view is what the test waits for, or fails after 30 s.
func waitCluster(t *testing.T, addr string, ok func(*node.ClusterView) bool) *node.ClusterView {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := rrnode(t, "", "cluster", "--addr", addr, "--output", "json")
		var v node.ClusterView
		if r.code == 0 && json.Unmarshal([]byte(r.out), &v) == nil && ok(&v) {
			return &v
		}
		if time.Now().After(deadline) {
			t.Fatalf("rrnode cluster never showed the state waited for; last run exited %d:\n%s\n%s", r.code, r.out, r.err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
