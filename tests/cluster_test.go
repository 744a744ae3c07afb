package tests

// Helpers of the multi-node tests (remote_test.go, netns_test.go,
// seccomp_test.go): configs with listeners and peers, nodes started in a
// namespace or not, with their whole log kept, and checks of an answer
// that crossed nodes.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/examples/pipeline/msg"
	"github.com/roadrunner-wasm/roadrunner/internal/netns"
	"github.com/roadrunner-wasm/roadrunner/internal/nodeproc"
	"github.com/roadrunner-wasm/roadrunner/internal/wasmbuild"
)

// testGuests are the guests the multi-node tests add to build/wasm, by
// module name: the test's own and node's test guests.
var testGuests = map[string]string{
	"reuse":   module + "/tests/testdata/reuse",
	"verify":  module + "/tests/testdata/verify",
	"hold":    module + "/tests/testdata/hold",
	"relay":   module + "/node/testdata/relay",
	"counter": module + "/node/testdata/counter",
	"echo":    module + "/node/testdata/echo",
}

var (
	guestsOnce sync.Once
	guestsErr  error
)

// buildAll is build, plus testGuests in the same tree.
func buildAll(t *testing.T) tree {
	t.Helper()
	tr := build(t)
	guestsOnce.Do(func() {
		for name, pkg := range testGuests {
			if guestsErr = wasmbuild.Build(pkg, tr.wasm(name)); guestsErr != nil {
				return
			}
		}
	})
	if guestsErr != nil {
		t.Fatal(guestsErr)
	}
	return tr
}

// wasm is the path of the module name in the tree.
func (tr tree) wasm(name string) string { return filepath.Join(tr.dir, "build", "wasm", name+".wasm") }

// fn is one function of a node config.
type fn struct {
	name, module    string // module: a name of tr.wasm
	pool            int    // 0 = 1
	maxPayload      string // "" = the node's
	uninterruptible bool
	sharedMemory    bool // shared_memory: true
}

// peer is one peer of a node config.
type peer struct {
	name, address string
	functions     []string
}

// nodeConfig is a node's YAML config, as the tests write it.
type nodeConfig struct {
	name       string
	maxPayload string // "" = 300MiB: a 256 MiB body plus the pipeline's header
	listenUnix string
	unixMode   string
	unixGroup  string
	listenTCP  string
	functions  []fn
	peers      []peer
	// sockmapPinDir is node.sockmap_pin_dir; "" = the default.
	sockmapPinDir string
	// insecureTCP is node.auth.insecure: true, which a listenTCP on a veth
	// address (198.18.x, not loopback) needs without keys.
	insecureTCP bool
	// keys is node.auth.keys; tls is node.tls's cert, key and ca files;
	// tcpSend is node.tcp_send. "" leaves each out.
	keys    string
	tls     [3]string
	tcpSend string
	// extra is YAML appended as it is (a cluster section, say).
	extra string
}

// pipelineFns are the example pipeline's functions.
var (
	producerFn  = fn{name: "producer", module: "producer"}
	transformFn = fn{name: "transform", module: "transform"}
	consumerFn  = fn{name: "consumer", module: "consumer"}
)

// write writes the config into dir as NAME.yaml and returns its path.
func (c nodeConfig) write(t *testing.T, tr tree, dir string) string {
	t.Helper()
	var b strings.Builder
	mp := c.maxPayload
	if mp == "" {
		mp = "300MiB"
	}
	fmt.Fprintf(&b, "node:\n  name: %s\n  max_payload: %s\n  invocation_timeout: 120s\n  drain_timeout: 10s\n  drain_delay: 0\n  dial_timeout: 2s\n  io_timeout: 10s\n", c.name, mp)
	if c.sockmapPinDir != "" {
		fmt.Fprintf(&b, "  sockmap_pin_dir: %s\n", c.sockmapPinDir)
	}
	if c.listenUnix != "" || c.listenTCP != "" {
		b.WriteString("  listen:\n")
		if c.listenUnix != "" {
			fmt.Fprintf(&b, "    unix: %s\n", c.listenUnix)
		}
		if c.unixMode != "" {
			fmt.Fprintf(&b, "    unix_mode: %q\n", c.unixMode)
		}
		if c.unixGroup != "" {
			fmt.Fprintf(&b, "    unix_group: %q\n", c.unixGroup)
		}
		if c.listenTCP != "" {
			fmt.Fprintf(&b, "    tcp: %s\n", c.listenTCP)
		}
	}
	switch {
	case c.insecureTCP && c.keys != "":
		fmt.Fprintf(&b, "  auth:\n    keys: %s\n    insecure: true\n", c.keys)
	case c.insecureTCP:
		b.WriteString("  auth:\n    insecure: true\n")
	case c.keys != "":
		fmt.Fprintf(&b, "  auth:\n    keys: %s\n", c.keys)
	}
	if c.tls[0] != "" {
		fmt.Fprintf(&b, "  tls:\n    cert: %s\n    key: %s\n    ca: %s\n", c.tls[0], c.tls[1], c.tls[2])
	}
	if c.tcpSend != "" {
		fmt.Fprintf(&b, "  tcp_send: %s\n", c.tcpSend)
	}
	b.WriteString("functions:\n")
	for _, f := range c.functions {
		pool := max(f.pool, 1)
		fmt.Fprintf(&b, "  - name: %s\n    module: %s\n    pool: %d\n", f.name, tr.wasm(f.module), pool)
		if f.maxPayload != "" {
			fmt.Fprintf(&b, "    max_payload: %s\n", f.maxPayload)
		}
		if f.uninterruptible {
			b.WriteString("    interruptible: false\n")
		}
		if f.sharedMemory {
			b.WriteString("    shared_memory: true\n")
		}
	}
	if len(c.peers) > 0 {
		b.WriteString("peers:\n")
		for _, p := range c.peers {
			fmt.Fprintf(&b, "  - name: %s\n    address: %s\n    functions: [%s]\n", p.name, p.address, strings.Join(p.functions, ", "))
		}
	}
	b.WriteString(c.extra)
	file := filepath.Join(dir, c.name+".yaml")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// shortDir is a temporary directory with a short path, for unix sockets
// (108 bytes at most), removed at cleanup.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "rr")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// rnode is a running rrnode of a multi-node test, with its whole log.
type rnode struct {
	*nodeproc.Node
	name string
	log  *logBuf
}

// launchOpts are how a node of a multi-node test starts.
type launchOpts struct {
	ns     *netns.NS // nil: the test's namespace
	args   []string  // more arguments of rrnode start
	binary string    // "" = the tree's rrnode
	env    []string
}

// launch starts rrnode on config, and stops it at cleanup (a killed node
// counts as stopped). A node that exits with an error at cleanup fails the
// test; a failed test logs the end of every node's output.
func launch(t *testing.T, tr tree, name, config string, o launchOpts) *rnode {
	t.Helper()
	lb := &logBuf{}
	opts := &nodeproc.Options{
		Binary: tr.rrnode,
		Config: config,
		Args:   o.args,
		Env:    append([]string{"XDG_CACHE_HOME=" + filepath.Join(tr.dir, "cache")}, o.env...),
		Output: lb,
	}
	if o.binary != "" {
		opts.Binary = o.binary
	}
	if o.ns != nil {
		opts.NetNS = o.ns
	}
	n, err := nodeproc.Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("start node %s: %v", name, err)
	}
	rn := &rnode{Node: n, name: name, log: lb}
	t.Cleanup(func() {
		if _, err := n.Stop(); err != nil {
			t.Errorf("node %s: %v", name, err)
		}
		if t.Failed() {
			t.Logf("node %s output (end):\n%s", name, lb.tail(16<<10))
		}
	})
	return rn
}

// logBuf keeps everything a node writes, for checks of what it logged.
type logBuf struct {
	mu  sync.Mutex
	buf []byte
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	return len(p), nil
}

// mark is the length of the log so far: since(mark) is what came after.
func (l *logBuf) mark() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buf)
}

func (l *logBuf) since(mark int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.buf[min(mark, len(l.buf)):])
}

func (l *logBuf) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.buf[max(0, len(l.buf)-n):])
}

// waitLine waits until a line after mark contains every one of words, and
// returns it.
func (l *logBuf) waitLine(t *testing.T, mark int, timeout time.Duration, words ...string) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, line := range strings.Split(l.since(mark), "\n") {
			if containsAll(line, words) {
				return line
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q within %v; since the mark:\n%s", words, timeout, l.since(mark))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func containsAll(s string, words []string) bool {
	for _, w := range words {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}

var listeningRE = regexp.MustCompile(`msg=listening path=(\S+) addr=(\S+)`)

// listenAddr is the address the node logged it listens on for path
// ("unix" or "tcp"): how a test learns the port of tcp 127.0.0.1:0.
func (n *rnode) listenAddr(t *testing.T, path string) string {
	t.Helper()
	line := n.log.waitLine(t, 0, 10*time.Second, "msg=listening", "path="+path)
	m := listeningRE.FindStringSubmatch(line)
	if m == nil || m[1] != path {
		t.Fatalf("node %s: listening line %q: want path=%s addr=…", n.name, line, path)
	}
	if strings.HasSuffix(m[2], ":0") {
		t.Fatalf("node %s logged %s, not the port it listens on", n.name, m[2])
	}
	return m[2]
}

// invoke POSTs payload to function on n, through n's namespace if any.
func (n *rnode) invoke(t *testing.T, function string, payload []byte) answer {
	t.Helper()
	return n.invokeWith(t, n.Client(), function, payload)
}

// longTrailers is a client for n whose connections read up to 64 KiB of
// trailers. Go's default reads 4 KiB (the bufio.Reader's size: net/http
// refuses a longer trailer as "suspiciously long"), less than the Rr-Trace
// of an invocation with more than about 35 hops, well under
// node.MaxTraceHops: a node bug, reported; this keeps tests of many sends
// in one invocation about what they test.
func (n *rnode) longTrailers() *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: n.DialContext, ReadBufferSize: 64 << 10}}
}

// invokeWith is invoke with the given client.
func (n *rnode) invokeWith(t *testing.T, client *http.Client, function string, payload []byte) answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.URL()+"/v1/functions/"+function, bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("node %s: POST %s: %v", n.name, function, err)
	}
	return readAnswer(t, resp)
}

// metrics scrapes n's /metrics, through its namespace if any.
func (n *rnode) metrics(t *testing.T) metrics {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.URL()+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := n.Client().Do(req)
	if err != nil {
		t.Fatalf("node %s: /metrics: %v", n.name, err)
	}
	a := readAnswer(t, resp)
	if a.status != http.StatusOK {
		t.Fatalf("node %s: /metrics: %d %q", n.name, a.status, a.body)
	}
	return parseMetrics(a.body)
}

// parseMetrics parses the Prometheus text format: sample name{labels} ->
// value (a sample without labels is name{}).
func parseMetrics(body []byte) metrics {
	m := metrics{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		key := line[:i]
		if !strings.HasSuffix(key, "}") {
			key += "{}"
		}
		m[key] = v
	}
	return m
}

// sum adds the samples of name whose labels contain every one of labels
// ("path=\"unix\"").
func (m metrics) sum(name string, labels ...string) float64 {
	var s float64
	for k, v := range m {
		if strings.HasPrefix(k, name+"{") && containsAll(k[len(name):], labels) {
			s += v
		}
	}
	return s
}

// remoteSizes are the body sizes of the multi-node pipeline tests.
var remoteSizes = []int{0, 1, 1 << 20, 64 << 20, 256 << 20}

// checkRemotePipeline checks the answer of a producer invocation whose
// transform runs on another node, reached over path ("unix" or "tcp"):
// the consumer's report travelled back in REPLY frames, and the other
// node's transform → consumer hop (over nextPath) in a HOPS frame, marked
// with the node that made it.
func checkRemotePipeline(t *testing.T, a answer, payload []byte, path, nextPath string) {
	t.Helper()
	checkHops(t, a, payload, path, nextPath, 3)
	if h := a.trace[2]; h.Node == "" {
		t.Errorf("the transform's hop %+v names no node: it came back from a peer", h)
	}
}

// checkHops checks a producer invocation's answer: the consumer's verified
// report and the trace's first hops (the ingress, producer → transform on
// path, transform → consumer on nextPath).
func checkHops(t *testing.T, a answer, payload []byte, path, nextPath string, hops int) {
	t.Helper()
	if a.status != http.StatusOK {
		t.Fatalf("status %d, body %q, trace %+v", a.status, a.body, a.trace)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/octet-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	if !a.rrErrorSet || a.rrError != "" {
		t.Errorf("Rr-Error trailer: set %v, %q; want set and empty", a.rrErrorSet, a.rrError)
	}
	r := a.report(t)
	want := msg.Report{Function: "consumer", Bytes: uint64(len(payload)), CRC32C: msg.FormatCRC(msg.Checksum(payload)), Hops: 2, Verified: true}
	if r != want {
		t.Fatalf("consumer replied %+v, want %+v", r, want)
	}
	n := uint64(len(payload))
	wantHops := []hop{
		{From: "http", To: "producer", Path: "http", Bytes: n, Result: "ok"},
		{From: "producer", To: "transform", Path: path, Bytes: msg.HeaderSize + n, Result: "ok"},
		{From: "transform", To: "consumer", Path: nextPath, Bytes: msg.HeaderSize + n, Result: "ok"},
	}
	if len(a.trace) != hops {
		t.Fatalf("trace %+v, want %d hops", a.trace, hops)
	}
	for i, h := range a.trace {
		if h.TransferNS < 0 || h.TransferNS > h.TotalNS {
			t.Errorf("hop %d: transfer_ns %d, total_ns %d: want 0 <= transfer <= total", i, h.TransferNS, h.TotalNS)
		}
		if i == 1 && h.TransferNS == 0 {
			t.Errorf("hop %d: transfer_ns 0: the payload never landed?", i)
		}
		h.TransferNS, h.TotalNS, h.Node = 0, 0, "" // the node that made a hop is the caller's to check
		if h != wantHops[i] {
			t.Errorf("hop %d: %+v, want %+v", i, h, wantHops[i])
		}
	}
}

// runPipeline sends each of sizes through producer on a and checks the
// answer; the transform is remote over path.
func runPipeline(t *testing.T, a *rnode, sizes []int, path, nextPath string) {
	t.Helper()
	for _, size := range sizes {
		payload := pattern(size)
		start := time.Now()
		checkRemotePipeline(t, a.invoke(t, "producer", payload), payload, path, nextPath)
		t.Logf("%d B over %s: %v", size, path, time.Since(start).Round(time.Millisecond))
	}
}

// jsonDecode decodes b into v, failing t.
func jsonDecode(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%q: %v", b, err)
	}
}
