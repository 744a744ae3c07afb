package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/internal/wasmbuild"
	"github.com/roadrunner-wasm/roadrunner/node"
)

// cacheDir is the compilation cache the tests' nodes share, so that each
// test module is compiled once per test binary.
var cacheDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rr-node-cache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cacheDir = dir
	code := m.Run()
	wasmbuild.Cleanup()
	os.RemoveAll(dir)
	os.Exit(code)
}

const testdata = "github.com/roadrunner-wasm/roadrunner/node/testdata/"

// testConfig is the node most tests run: guests from testdata, small limits.
const testConfig = `
node:
  max_payload: 4MiB
  max_depth: 4
  invocation_timeout: 60s
  cache_dir: {{cache}}
functions:
  - {name: echo, module: {{echo}}, pool: 2}
  - {name: relay, module: {{relay}}, pool: 4}
  - {name: self, module: {{relay}}, pool: 1}
  - {name: counter, module: {{counter}}, pool: 1, max_payload: 1KiB}
`

// logBuffer collects a node's log records as JSON lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

type testNode struct {
	*node.Node
	url    string // http://127.0.0.1:port
	logs   *logBuffer
	config string // the config file it was started from
}

// startNode starts a node with config (testConfig if ""), serving HTTP on a
// loopback port, and shuts it down when the test ends.
func startNode(t *testing.T, config string, opts *node.Options) *testNode {
	t.Helper()
	if config == "" {
		config = testConfig
	}
	path := filepath.Join(t.TempDir(), "node.yaml")
	writeNodeConfig(t, path, config)
	cfg, err := node.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	var o node.Options
	if opts != nil {
		o = *opts
	}
	o.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	n, err := node.New(context.Background(), cfg, &o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- n.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
		if t.Failed() {
			t.Logf("node log:\n%s", logs)
		}
	})
	return &testNode{Node: n, url: "http://" + ln.Addr().String(), logs: logs, config: path}
}

// writeNodeConfig writes config to path, its {{…}} filled in (the cache and the
// testdata guests' modules), atomically: a rename over the file.
func writeNodeConfig(t *testing.T, path, config string) {
	t.Helper()
	config = strings.NewReplacer(
		"{{cache}}", cacheDir,
		"{{echo}}", wasmbuild.ForTest(t, testdata+"echo"),
		"{{relay}}", wasmbuild.ForTest(t, testdata+"relay"),
		"{{counter}}", wasmbuild.ForTest(t, testdata+"counter"),
	).Replace(config)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// response is an HTTP answer, body read and trailers in.
type response struct {
	status  int
	header  http.Header
	trailer http.Header
	body    []byte
}

// trace decodes the Rr-Trace header or trailer.
func (r *response) trace(t *testing.T) node.Trace {
	t.Helper()
	s := r.header.Get(node.HeaderTrace)
	if s == "" {
		s = r.trailer.Get(node.HeaderTrace)
	}
	var tr node.Trace
	if err := json.Unmarshal([]byte(s), &tr); err != nil {
		t.Fatalf("Rr-Trace %q: %v", s, err)
	}
	return tr
}

// errorBody decodes a failed invocation's JSON body.
func (r *response) errorBody(t *testing.T) node.ErrorBody {
	t.Helper()
	var e node.ErrorBody
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	return e
}

var client = &http.Client{}

// invoke POSTs body to function name.
func (n *testNode) invoke(t *testing.T, name string, body []byte) *response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a bound against hangs, not a timing assertion
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.url+"/v1/functions/"+name, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	return do(t, req)
}

func do(t *testing.T, req *http.Request) *response {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, trailer: resp.Trailer, body: body}
}

func (n *testNode) get(t *testing.T, path string) *response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, n.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

// metric returns the value of the sample line that starts with series
// (name{labels}) in /metrics, or -1 if there is none.
func (n *testNode) metric(t *testing.T, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(string(n.get(t, "/metrics").body), "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			var v float64
			if _, err := fmt.Sscan(rest, &v); err != nil {
				t.Fatalf("metric line %q: %v", line, err)
			}
			return v
		}
	}
	return -1
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + i>>8 + 7)
	}
	return b
}
