package tests

// The directory's cost at scale (issue 17): RR_CLUSTER_SCALE nodes on the
// loopback addresses 127.0.1.1 … 127.0.1.N behind one DNS name, each
// hosting a function of its own, as a full mesh that heartbeats every
// peer every cluster.refresh. A measurement, not part of make test: run
// it with make cluster-scale on an otherwise idle machine. It asserts
// that every node converges and keeps one connection each way per peer,
// and logs what that costs per node: convergence time, connections,
// memory and CPU, against one node started without a cluster section.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/internal/testdns"
	"github.com/roadrunner-wasm/roadrunner/node"
	"github.com/roadrunner-wasm/roadrunner/transport"
)

// scaleEnv holds the node count; TestClusterScale skips without it.
const scaleEnv = "RR_CLUSTER_SCALE"

const (
	scaleName    = "scale.rr.test"
	scalePort    = 7070
	scaleRefresh = 5 * time.Second
	// scaleWindow is the steady state over which CPU is measured: twelve
	// heartbeat rounds.
	scaleWindow = 60 * time.Second
	// scaleConverge bounds the wait for every node to see every other.
	scaleConverge = 3 * time.Minute
)

// userHZ is the unit of utime and stime in /proc/PID/stat: USER_HZ, 100
// in Linux's ABI on every architecture Go's linux port has but alpha.
const userHZ = 100

// scaleNode is one node of the scale test.
type scaleNode struct {
	*rnode
	addr string // tcp://127.0.1.I:7070, as the others' directories show it
	fn   string // the one function it hosts
}

func TestClusterScale(t *testing.T) {
	env := os.Getenv(scaleEnv)
	if env == "" {
		t.Skipf("a measurement: set %s to the node count (make cluster-scale)", scaleEnv)
	}
	count, err := strconv.Atoi(env)
	if err != nil || count < 2 || count > 250 {
		t.Fatalf("%s=%q: want a node count in 2..250 (127.0.1.1 … 127.0.1.N)", scaleEnv, env)
	}
	t.Logf("load average before the start: %s", loadAvg(t))
	tr := build(t)
	dns := testdns.Start(t)
	dir := t.TempDir()
	keys := writeKeys(t, dir, "keys", transport.GenerateKey())
	cluster := fmt.Sprintf("cluster:\n  dns: %s\n  port: %d\n  refresh: %s\n  resolver: %s\n", scaleName, scalePort, scaleRefresh, dns.Addr())

	// The baseline: the same node, alone, without a cluster section. A
	// node started and stopped before it compiles the module into the
	// cache, which every node then loads alike: the first to start would
	// otherwise carry the compiler's garbage.
	baseCfg := nodeConfig{name: "base", listenTCP: "127.0.2.1:7070", keys: keys,
		functions: []fn{{name: "f0", module: "transform"}}}.write(t, tr, dir)
	if _, err := launch(t, tr, "warm", baseCfg, launchOpts{}).Stop(); err != nil {
		t.Fatal(err)
	}
	base := launch(t, tr, "base", baseCfg, launchOpts{})

	// Every node starts with the name unknown to DNS (no peers), and the
	// record is set once, with every address, when all are up: the
	// convergence measured is that of a cluster whose name appears.
	nodes := make([]*scaleNode, count)
	addrs := make([]netip.Addr, count)
	began := time.Now()
	for i := range nodes {
		name := fmt.Sprintf("n%d", i+1)
		addrs[i] = netip.AddrFrom4([4]byte{127, 0, 1, byte(i + 1)})
		listen := netip.AddrPortFrom(addrs[i], scalePort).String()
		cfg := nodeConfig{name: name, listenTCP: listen, keys: keys,
			functions: []fn{{name: "f" + strconv.Itoa(i+1), module: "transform"}}}.write(t, tr, dir)
		appendFile(t, cfg, cluster)
		rn := launch(t, tr, name, cfg, launchOpts{})
		nodes[i] = &scaleNode{rnode: rn, addr: "tcp://" + listen, fn: "f" + strconv.Itoa(i+1)}
	}
	t.Logf("%d nodes started in %v", count, time.Since(began).Round(time.Millisecond))
	for _, n := range nodes {
		n.waitView(t, time.Minute, "resolved the empty name", func(v node.ClusterView) bool {
			return v.DNS != nil && !v.DNS.LastOK.IsZero() && len(v.Peers) == 0
		})
	}

	// 1. Convergence.
	marks := make([]int, count)
	for i, n := range nodes {
		marks[i] = n.log.mark()
	}
	cpuBefore := cpuTimes(t, nodes)
	queriesBefore := dns.Queries(scaleName)
	set := time.Now()
	dns.Set(scaleName, addrs...)
	seen := converge(t, nodes, set)
	cpuConverged := cpuTimes(t, nodes)
	// The nodes' logs time it to the millisecond: the first "peer up"
	// anywhere follows the first lookup after set (a node's refresh tick;
	// the others look again at once, when its HELLO names an instance
	// they do not know), a node's last "peer up" is when it had every
	// peer.
	fromLog := make([]float64, count)
	seenAt := make([]float64, count)
	first := set.Add(scaleConverge)
	for i, n := range nodes {
		seenAt[i] = seen[i].Seconds()
		fromLog[i] = seenAt[i]
		ups := peerUps(n.log.since(marks[i]))
		if len(ups) == count-1 {
			fromLog[i] = slices.MaxFunc(ups, time.Time.Compare).Sub(set).Seconds()
		}
		if len(ups) > 0 {
			if m := slices.MinFunc(ups, time.Time.Compare); m.Before(first) {
				first = m
			}
		}
	}
	tick := first.Sub(set).Seconds()
	mesh := make([]float64, count)
	for i := range mesh {
		mesh[i] = fromLog[i] - tick
	}
	t.Logf("convergence from the DNS record holding all %d addresses (set once every node was up) to each node's /v1/cluster showing %d peers up and itself as self:", count, count-1)
	t.Logf("  by each node's last \"peer up\" log line: median %.3f s, max %.3f s", medianOf(fromLog), slices.Max(fromLog))
	t.Logf("  as polled every 100 ms (an upper bound): median %.3f s, max %.3f s", medianOf(seenAt), slices.Max(seenAt))
	t.Logf("  of which waiting for a refresh tick (the first \"peer up\" anywhere): %.3f s; then the mesh forming: median %.3f s, max %.3f s",
		tick, medianOf(mesh), slices.Max(mesh))
	join := make([]float64, count)
	for i := range nodes {
		join[i] = (cpuConverged[i] - cpuBefore[i]).Seconds()
	}
	t.Logf("  CPU to join (%d dials and %d accepts with HELLO, plus exchanges): median %.3f s, max %.3f s per node, %.2f s in all",
		count-1, count-1, medianOf(join), slices.Max(join), sumOf(join))

	// 2-4. Steady state, one refresh after convergence so that the
	// window holds heartbeats only.
	time.Sleep(scaleRefresh)
	pids := make([]int, count)
	for i, n := range nodes {
		pids[i] = n.PID()
	}
	cpu0, base0, busy0 := cpuTimes(t, nodes), procCPU(t, base.PID()), machineBusy(t)
	q0, w0 := dns.Queries(scaleName), time.Now()
	time.Sleep(scaleWindow)
	cpu1, base1, busy1 := cpuTimes(t, nodes), procCPU(t, base.PID()), machineBusy(t)
	q1, window := dns.Queries(scaleName), time.Since(w0)
	var nodesCPU time.Duration
	for i := range nodes {
		nodesCPU += cpu1[i] - cpu0[i]
	}
	t.Logf("the window: the nodes used %.2f s of CPU, everything else on the machine %.2f s (of %.0f s on %d cores); load average at its end: %s",
		nodesCPU.Seconds(), (busy1 - busy0 - nodesCPU - (base1 - base0)).Seconds(), window.Seconds(), runtime.NumCPU(), loadAvg(t))

	// Connections: one outbound to every other node (to its port 7070),
	// one inbound from each, nothing else on the node's tcp port.
	var outs, ins, socks []float64
	for i, n := range nodes {
		c := procConns(t, pids[i], scalePort)
		if c.out != count-1 || c.in != count-1 {
			t.Errorf("node %s: %d connections out and %d in to port %d, want %d each (a full mesh)", n.name, c.out, c.in, scalePort, count-1)
		}
		outs = append(outs, float64(c.out))
		ins = append(ins, float64(c.in))
		socks = append(socks, float64(c.sockets))
	}
	bc := procConns(t, base.PID(), scalePort)
	t.Logf("connections per node (established tcp, port %d): out median %.0f max %.0f, in median %.0f max %.0f; socket fds median %.0f max %.0f (listeners and the test's HTTP client included)",
		scalePort, medianOf(outs), slices.Max(outs), medianOf(ins), slices.Max(ins), medianOf(socks), slices.Max(socks))
	t.Logf("connections in all: %.0f tcp connections between nodes (%.0f sockets); baseline node: %d out, %d in, %d socket fds",
		sumOf(outs), sumOf(outs)+sumOf(ins), bc.out, bc.in, bc.sockets)

	// Memory.
	var rss []float64
	for i := range nodes {
		rss = append(rss, float64(procRSS(t, pids[i])))
	}
	baseRSS := float64(procRSS(t, base.PID()))
	t.Logf("RSS per node: median %.1f MiB, max %.1f MiB; baseline %.1f MiB; median - baseline = %.1f MiB, %.1f KiB per peer",
		medianOf(rss)/1024, slices.Max(rss)/1024, baseRSS/1024, (medianOf(rss)-baseRSS)/1024, (medianOf(rss)-baseRSS)/float64(count-1))

	// CPU over the window: each node answers count-1 exchanges and makes
	// count-1 every refresh.
	var pct []float64
	for i := range nodes {
		pct = append(pct, 100*(cpu1[i]-cpu0[i]).Seconds()/window.Seconds())
	}
	basePct := 100 * (base1 - base0).Seconds() / window.Seconds()
	// Per node, the mean: a node's utime and stime count 10 ms ticks, the
	// sum over the nodes is the finer measure.
	meanPct := 100 * nodesCPU.Seconds() / float64(count) / window.Seconds()
	rounds := window.Seconds() / scaleRefresh.Seconds()
	round := (meanPct - basePct) / 100 * window.Seconds() / rounds
	t.Logf("CPU over %v of steady state: median %.3f%%, mean %.3f%%, max %.3f%% of one core per node; baseline %.3f%%",
		window.Round(time.Second), medianOf(pct), meanPct, slices.Max(pct), basePct)
	t.Logf("  (mean - baseline): %.2f ms per refresh round (a lookup, %d exchanges made, %d answered), %.1f µs per exchange end with the round's fixed cost spread over them",
		round*1e3, count-1, count-1, round/float64(2*(count-1))*1e6)
	// The A answer: header, question, 16 bytes a record. Go's resolver
	// offers 1232 bytes over UDP (EDNS(0)); a longer answer comes back
	// truncated and is asked again over TCP, a third query per lookup.
	answer := 12 + len(scaleName) + 2 + 4 + 16*count
	t.Logf("DNS: %d queries over the window (%.1f/s, %.2f per lookup: A and AAAA); the A answer is %d bytes; %d queries in convergence",
		q1-q0, float64(q1-q0)/window.Seconds(), float64(q1-q0)/(float64(count)*rounds), answer, q0-queriesBefore)

	// After the window: still converged, nothing refused or failed, and
	// the Go heap for the record.
	var heap, goroutines []float64
	for _, n := range nodes {
		if v := n.view(t); !n.converged(v, nodes) {
			b, _ := json.MarshalIndent(v, "", "  ")
			t.Errorf("node %s lost its directory during the window:\n%s", n.name, b)
		}
		m := n.metrics(t)
		if f := m.sum("rr_auth_failures_total"); f != 0 {
			t.Errorf("node %s: rr_auth_failures_total %v", n.name, f)
		}
		if f := m.sum("rr_dial_failures_total"); f != 0 {
			t.Errorf("node %s: rr_dial_failures_total %v", n.name, f)
		}
		heap = append(heap, m.get("go_memstats_heap_inuse_bytes", ""))
		goroutines = append(goroutines, m.get("go_goroutines", ""))
	}
	bm := base.metrics(t)
	baseHeap, baseG := bm.get("go_memstats_heap_inuse_bytes", ""), bm.get("go_goroutines", "")
	t.Logf("Go heap in use per node: median %.2f MiB, max %.2f MiB; baseline %.2f MiB; (median - baseline) / %d peers = %.1f KiB per peer",
		medianOf(heap)/(1<<20), slices.Max(heap)/(1<<20), baseHeap/(1<<20), count-1, (medianOf(heap)-baseHeap)/float64(count-1)/1024)
	t.Logf("goroutines per node: median %.0f, max %.0f; baseline %.0f; (median - baseline) / %d peers = %.2f per peer",
		medianOf(goroutines), slices.Max(goroutines), baseG, count-1, (medianOf(goroutines)-baseG)/float64(count-1))
}

// appendFile appends s to the file at path.
func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		f.Close()
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// view fetches n's GET /v1/cluster.
func (n *scaleNode) view(t *testing.T) node.ClusterView {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.URL()+"/v1/cluster", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := n.Client().Do(req)
	if err != nil {
		t.Fatalf("node %s: /v1/cluster: %v", n.name, err)
	}
	a := readAnswer(t, resp)
	if a.status != http.StatusOK {
		t.Fatalf("node %s: /v1/cluster: %d %q", n.name, a.status, a.body)
	}
	var v node.ClusterView
	jsonDecode(t, a.body, &v)
	return v
}

// waitView waits until n's directory satisfies ok, or fails t after
// timeout.
func (n *scaleNode) waitView(t *testing.T, timeout time.Duration, what string, ok func(node.ClusterView) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v := n.view(t)
		if ok(v) {
			return
		}
		if time.Now().After(deadline) {
			b, _ := json.MarshalIndent(v, "", "  ")
			t.Fatalf("node %s: never %s within %v; directory:\n%s", n.name, what, timeout, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// converged reports whether v, n's directory, has every other node of
// nodes up with its function, n's own address as self, and nothing else.
func (n *scaleNode) converged(v node.ClusterView, nodes []*scaleNode) bool {
	if len(v.Peers) != len(nodes) {
		return false
	}
	byAddr := map[string]node.PeerView{}
	for _, p := range v.Peers {
		byAddr[p.Address] = p
	}
	for _, o := range nodes {
		p, ok := byAddr[o.addr]
		switch {
		case !ok:
			return false
		case o == n:
			if p.State != node.StateSelf {
				return false
			}
		case p.State != node.StateUp || p.Name != o.name || p.Path != "tcp" || !slices.Equal(p.Functions, []string{o.fn}):
			return false
		}
	}
	return true
}

// converge polls every node until each has converged, and returns how
// long after set each was first seen so. It fails t after scaleConverge.
// Polling is gentle (a round, then 100 ms) so as not to slow what it
// measures; the nodes' logs time it more finely.
func converge(t *testing.T, nodes []*scaleNode, set time.Time) []time.Duration {
	t.Helper()
	seen := make([]time.Duration, len(nodes))
	left := len(nodes)
	deadline := set.Add(scaleConverge)
	for left > 0 {
		for i, n := range nodes {
			if seen[i] != 0 {
				continue
			}
			if n.converged(n.view(t), nodes) {
				seen[i] = time.Since(set)
				left--
			}
		}
		if left > 0 && time.Now().After(deadline) {
			for i, n := range nodes {
				if seen[i] == 0 {
					b, _ := json.MarshalIndent(n.view(t), "", "  ")
					t.Fatalf("%d of %d nodes not converged within %v; %s's directory:\n%s", left, len(nodes), scaleConverge, n.name, b)
				}
			}
		}
		if left > 0 {
			time.Sleep(100 * time.Millisecond)
		}
	}
	return seen
}

var peerUpRE = regexp.MustCompile(`^time=(\S+) .*msg="peer up" peer_name=(\S+)`)

// peerUps returns when log says each peer came up, the last time for a
// peer named more than once. (A node's own address turning self is
// logged only at debug.)
func peerUps(log string) []time.Time {
	last := map[string]time.Time{}
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		m := peerUpRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		if at, err := time.Parse(time.RFC3339Nano, m[1]); err == nil && at.After(last[m[2]]) {
			last[m[2]] = at
		}
	}
	return slices.Collect(maps.Values(last))
}

// cpuTimes is procCPU of every node.
func cpuTimes(t *testing.T, nodes []*scaleNode) []time.Duration {
	t.Helper()
	c := make([]time.Duration, len(nodes))
	for i, n := range nodes {
		c[i] = procCPU(t, n.PID())
	}
	return c
}

// procCPU is the CPU time (utime + stime) process pid has used.
func procCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The command may hold spaces and parentheses: fields start after
	// the last ')', with the state (field 3) first.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		t.Fatalf("/proc/%d/stat: %q", pid, s)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("/proc/%d/stat: %q", pid, s)
	}
	return time.Duration(utime+stime) * time.Second / userHZ
}

// procRSS is process pid's resident set, in KiB.
func procRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("/proc/%d/status: %q", pid, line)
			}
			return kb
		}
	}
	t.Fatalf("/proc/%d/status has no VmRSS", pid)
	return 0
}

// procSockets counts a process's sockets: all its socket fds, and its
// established tcp connections to (out) and from (in) a port.
type procSockets struct {
	sockets, out, in int
}

// procConns counts process pid's sockets, and its established tcp
// connections whose remote (out) or local (in) port is port. The
// connections are those of /proc/net/tcp{,6} whose inode is one of the
// process's socket fds: the nodes run in the test's network namespace.
func procConns(t *testing.T, pid, port int) procSockets {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	var c procSockets
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join(fmt.Sprintf("/proc/%d/fd", pid), fd.Name()))
		if err != nil {
			continue // closed since ReadDir
		}
		if inode, ok := strings.CutPrefix(link, "socket:["); ok {
			inodes[strings.TrimSuffix(inode, "]")] = true
			c.sockets++
		}
	}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(table)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			// sl local rem st tx:rx tr:when retrnsmt uid timeout inode
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "01" || !inodes[f[9]] { // 01: ESTABLISHED
				continue
			}
			switch {
			case hexPort(f[2]) == port:
				c.out++
			case hexPort(f[1]) == port:
				c.in++
			}
		}
	}
	return c
}

// hexPort is the port of a /proc/net/tcp address (ADDR:PORT, in hex).
func hexPort(addr string) int {
	i := strings.LastIndexByte(addr, ':')
	p, err := strconv.ParseUint(addr[i+1:], 16, 16)
	if err != nil {
		return -1
	}
	return int(p)
}

// machineBusy is the CPU time every core of the machine has spent busy
// (all but idle and iowait), from /proc/stat.
func machineBusy(t *testing.T) time.Duration {
	t.Helper()
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	if len(f) < 9 || f[0] != "cpu" {
		t.Fatalf("/proc/stat: %q", line)
	}
	var ticks int64
	for i, v := range f[1:9] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("/proc/stat: %q", line)
		}
		if i != 3 && i != 4 { // idle, iowait
			ticks += n
		}
	}
	return time.Duration(ticks) * time.Second / userHZ
}

// loadAvg is /proc/loadavg's first three fields.
func loadAvg(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func medianOf(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func sumOf(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s
}
