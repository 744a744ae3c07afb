package tests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/examples/pipeline/msg"
	"github.com/roadrunner-wasm/roadrunner/internal/nodeproc"
	"github.com/roadrunner-wasm/roadrunner/internal/wasmbuild"
	"github.com/roadrunner-wasm/roadrunner/node"
)

const (
	module        = "github.com/roadrunner-wasm/roadrunner"
	exampleConfig = "../examples/pipeline.yaml"
	maxPayload    = 256 << 20 // examples/pipeline.yaml's node.max_payload
)

var guests = []string{"producer", "transform", "consumer"}

// tree is a temporary copy of the parts of the repository a node needs:
//
//	bin/rrnode
//	build/wasm/{producer,transform,consumer}.wasm
//	examples/pipeline.yaml   (a copy of the real one; its ../build/wasm paths resolve here)
type tree struct {
	dir, rrnode, config string
}

var (
	buildOnce sync.Once
	built     tree
	buildErr  error
	tmpRoot   string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if tmpRoot != "" {
		os.RemoveAll(tmpRoot)
	}
	os.Exit(code)
}

// raceEnabled reports whether this test binary was built with -race.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// build builds rrnode and the example modules once per test binary.
func build(t *testing.T) tree {
	t.Helper()
	buildOnce.Do(func() { built, buildErr = buildTree() })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

func buildTree() (tree, error) {
	dir, err := os.MkdirTemp("", "rr-e2e-")
	if err != nil {
		return tree{}, err
	}
	tmpRoot = dir
	tr := tree{
		dir:    dir,
		rrnode: filepath.Join(dir, "bin", "rrnode"),
		config: filepath.Join(dir, "examples", "pipeline.yaml"),
	}
	args := []string{"build", "-o", tr.rrnode}
	if raceEnabled() {
		args = append(args, "-race")
	}
	cmd := exec.Command(goTool(), append(args, module+"/cmd/rrnode")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return tree{}, fmt.Errorf("go build rrnode: %w\n%s", err, out)
	}
	for _, g := range guests {
		if err := wasmbuild.Build(module+"/examples/"+g, filepath.Join(dir, "build", "wasm", g+".wasm")); err != nil {
			return tree{}, err
		}
	}
	config, err := os.ReadFile(exampleConfig)
	if err != nil {
		return tree{}, err
	}
	if err := os.MkdirAll(filepath.Dir(tr.config), 0o755); err != nil {
		return tree{}, err
	}
	// The tests stop nodes with SIGTERM: no drain_delay (the example's
	// default 5s is for real deployments).
	noDelay := strings.Replace(string(config), "node:\n", "node:\n  drain_delay: 0\n", 1)
	if noDelay == string(config) {
		return tree{}, fmt.Errorf("%s has no node section to set drain_delay in", exampleConfig)
	}
	return tr, os.WriteFile(tr.config, []byte(noDelay), 0o644)
}

// goTool is the go command the tests build with: the one on PATH, as for
// internal/wasmbuild and the Makefile.
func goTool() string { return "go" }

// startNode starts rrnode on config and stops it at cleanup if the test has
// not; the test stops it itself where the exit status matters.
func startNode(t *testing.T, tr tree, config string) *nodeproc.Node {
	t.Helper()
	n, err := nodeproc.Start(context.Background(), &nodeproc.Options{
		Binary: tr.rrnode,
		Config: config,
		Env:    []string{"XDG_CACHE_HOME=" + filepath.Join(tr.dir, "cache")},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := n.Stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("rrnode output:\n%s", n.Output())
		}
	})
	return n
}

// pattern returns n deterministic bytes, different for each n.
func pattern(n int) []byte {
	b := make([]byte, n+7)
	s := uint64(n) * 0x2545f4914f6cdd1d
	for i := 0; i < n; i += 8 {
		s ^= s << 13
		s ^= s >> 7
		s ^= s << 17
		binary.LittleEndian.PutUint64(b[i:], s)
	}
	return b[:n:n]
}

// hop is one element of the Rr-Trace trailer, as the node defines it.
type hop = node.Hop

type answer struct {
	status     int
	header     http.Header
	body       []byte
	trace      []hop // from the Rr-Trace trailer, or header when there is no reply
	rrError    string
	rrErrorSet bool
}

var client = &http.Client{Timeout: 5 * time.Minute}

func post(t *testing.T, n *nodeproc.Node, function string, payload []byte) answer {
	t.Helper()
	resp, err := client.Post(n.URL()+"/v1/functions/"+function, "application/octet-stream", bytes.NewReader(payload))
	if err != nil {
		t.Fatalf("POST %s: %v", function, err)
	}
	return readAnswer(t, resp)
}

func readAnswer(t *testing.T, resp *http.Response) answer {
	t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, body: body}
	trace := resp.Trailer.Get("Rr-Trace")
	if trace == "" {
		trace = resp.Header.Get("Rr-Trace")
	}
	if trace != "" {
		if err := json.Unmarshal([]byte(trace), &a.trace); err != nil {
			t.Fatalf("Rr-Trace %q: %v", trace, err)
		}
	}
	_, a.rrErrorSet = resp.Trailer["Rr-Error"]
	a.rrError = resp.Trailer.Get("Rr-Error")
	return a
}

// errorBody is the JSON body of a failed invocation.
type errorBody struct {
	Error string `json:"error"`
	Code  int    `json:"code"`
	Label string `json:"label"`
}

func (a answer) errorBody(t *testing.T) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(a.body, &e); err != nil {
		t.Fatalf("status %d, body %q: not the JSON error: %v", a.status, a.body, err)
	}
	return e
}

func (a answer) report(t *testing.T) msg.Report {
	t.Helper()
	if a.status != http.StatusOK {
		t.Fatalf("status %d, body %q", a.status, a.body)
	}
	var r msg.Report
	if err := json.Unmarshal(a.body, &r); err != nil {
		t.Fatalf("reply %q: %v", a.body, err)
	}
	return r
}

// checkPipeline checks a producer invocation's answer against the payload
// sent, all three functions on one node.
func checkPipeline(t *testing.T, a answer, payload []byte) {
	t.Helper()
	checkHops(t, a, payload, "memory", "memory", 3)
}

func TestPipeline(t *testing.T) {
	tr := build(t)
	node := startNode(t, tr, tr.config)

	sizes := []int{0, 1, 1 << 10, 1 << 20, 64 << 20}
	before := scrape(t, node)
	var sum uint64
	for _, size := range sizes {
		t.Run(fmt.Sprintf("%dB", size), func(t *testing.T) {
			payload := pattern(size)
			checkPipeline(t, post(t, node, "producer", payload), payload)
		})
		sum += uint64(size)
	}

	t.Run("metrics", func(t *testing.T) {
		after := scrape(t, node)
		k := float64(len(sizes))
		for _, c := range []struct {
			name   string
			labels string
			want   float64
		}{
			{"rr_transfers_total", `path="http",result="ok"`, k},
			{"rr_transfers_total", `path="memory",result="ok"`, 2 * k},
			{"rr_transfer_bytes_total", `path="http",result="ok"`, float64(sum)},
			{"rr_transfer_bytes_total", `path="memory",result="ok"`, 2 * float64(sum+msg.HeaderSize*uint64(len(sizes)))},
			{"rr_transfer_duration_seconds_count", `path="memory"`, 2 * k},
			{"rr_invocations_total", `function="producer",result="ok"`, k},
		} {
			if got := after.get(c.name, c.labels) - before.get(c.name, c.labels); got != c.want {
				t.Errorf("%s{%s} grew by %v, want %v", c.name, c.labels, got, c.want)
			}
		}
	})

	t.Run("transform refuses a bad checksum", func(t *testing.T) {
		m := msg.Append(nil, pattern(1000))
		m[msg.HeaderSize+500] ^= 0x10
		a := post(t, node, "transform", m)
		checkFailure(t, a, http.StatusInternalServerError, "receiver_failed", "transform")
	})

	t.Run("transform refuses a truncated message", func(t *testing.T) {
		m := msg.Append(nil, pattern(1000))
		a := post(t, node, "transform", m[:len(m)-1])
		checkFailure(t, a, http.StatusInternalServerError, "receiver_failed", "transform")
	})

	t.Run("consumer catches corruption", func(t *testing.T) {
		m := transformed(pattern(4096))
		m[msg.HeaderSize+4000] ^= 1
		r := post(t, node, "consumer", m).report(t)
		if r.Verified || !strings.Contains(r.Reason, "crc32c") {
			t.Fatalf("consumer replied %+v, want not verified for its crc32c", r)
		}
	})

	t.Run("consumer catches truncation", func(t *testing.T) {
		m := transformed(pattern(4096))
		r := post(t, node, "consumer", m[:len(m)-8]).report(t)
		if r.Verified || !strings.Contains(r.Reason, "truncated") {
			t.Fatalf("consumer replied %+v, want not verified as truncated", r)
		}
	})

	t.Run("consumer verifies a good message", func(t *testing.T) {
		body := pattern(4096)
		r := post(t, node, "consumer", transformed(body)).report(t)
		if !r.Verified || r.Bytes != 4096 || r.CRC32C != msg.FormatCRC(msg.Checksum(body)) {
			t.Fatalf("consumer replied %+v", r)
		}
	})

	t.Run("unknown function", func(t *testing.T) {
		a := post(t, node, "nosuch", []byte("x"))
		if e := a.errorBody(t); a.status != http.StatusNotFound || e.Label != "unknown_function" || e.Code != -2 {
			t.Fatalf("status %d, %+v; want 404 unknown_function -2", a.status, e)
		}
	})

	t.Run("over the limit", func(t *testing.T) {
		// The body is announced and never sent: the node must refuse it on
		// its Content-Length alone.
		a := rawRequest(t, node, maxPayload+1, nil, false)
		if a.status != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, body %q; want 413", a.status, a.body)
		}
		if e := a.errorBody(t); e.Label != "too_large" {
			t.Fatalf("%+v, want too_large", e)
		}
	})

	t.Run("body shorter than its length", func(t *testing.T) {
		a := rawRequest(t, node, 100, []byte("only ten b"), true)
		if a.status != http.StatusBadRequest {
			t.Fatalf("status %d, body %q; want 400", a.status, a.body)
		}
	})

	t.Run("no content length", func(t *testing.T) {
		// Chunked: taken up to max_payload (tests/proxy_test.go has the
		// limit), the pipeline runs as with a length.
		payload := pattern(1 << 16)
		req, err := http.NewRequest(http.MethodPost, node.URL()+"/v1/functions/producer", io.NopCloser(bytes.NewReader(payload)))
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = -1
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		checkPipeline(t, readAnswer(t, resp), payload)
	})

	t.Run("concurrent", func(t *testing.T) {
		for g := range 8 {
			t.Run(strconv.Itoa(g), func(t *testing.T) {
				t.Parallel()
				for i := range 10 {
					payload := pattern(1<<16 + 8*g + i)
					checkPipeline(t, post(t, node, "producer", payload), payload)
				}
			})
		}
	})

	t.Run("still serving", func(t *testing.T) {
		payload := pattern(1 << 20)
		checkPipeline(t, post(t, node, "producer", payload), payload)
		resp, err := client.Get(node.URL() + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		if a := readAnswer(t, resp); a.status != http.StatusOK {
			t.Fatalf("healthz: %d %q", a.status, a.body)
		}
	})

	status, err := node.Stop()
	if status != 0 || err != nil {
		t.Fatalf("rrnode after SIGTERM: exit status %d: %v", status, err)
	}
}

// transformed returns the message the transform would send for body.
func transformed(body []byte) []byte {
	m := msg.Append(nil, body)
	h, b, _ := msg.Decode(m)
	msg.Scramble(h.CRC, b)
	h.Flags |= msg.FlagTransformed
	h.Hops++
	h.Put(m)
	return m
}

func checkFailure(t *testing.T, a answer, status int, label, function string) {
	t.Helper()
	e := a.errorBody(t)
	if a.status != status || e.Label != label || !strings.Contains(e.Error, function) {
		t.Fatalf("status %d, %+v; want %d %s naming %s", a.status, e, status, label, function)
	}
	if len(a.trace) != 1 || a.trace[0].To != function || a.trace[0].Result != label {
		t.Fatalf("trace %+v; want one hop to %s with result %s", a.trace, function, label)
	}
}

// rawRequest POSTs to producer over a bare connection, announcing length
// bytes and sending body; closeWrite ends the request body early.
func rawRequest(t *testing.T, n *nodeproc.Node, length int, body []byte, closeWrite bool) answer {
	t.Helper()
	conn, err := net.Dial("tcp", n.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Minute))
	fmt.Fprintf(conn, "POST /v1/functions/producer HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", n.Addr(), length)
	conn.Write(body)
	if closeWrite {
		conn.(*net.TCPConn).CloseWrite()
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	return readAnswer(t, resp)
}

// metrics is a scrape of /metrics: sample name{labels} -> value.
type metrics map[string]float64

// get sums the samples of name whose labels include every label of labels
// (`path="tcp",result="ok"`): a series with more labels (mechanism, say)
// counts too. Empty labels is the sample without labels.
func (m metrics) get(name, labels string) float64 {
	if labels == "" {
		return m[name+"{}"]
	}
	var want []string
	for _, l := range strings.SplitAfter(labels, `",`) {
		want = append(want, strings.TrimSuffix(l, ","))
	}
	return m.sum(name, want...)
}

func scrape(t *testing.T, n *nodeproc.Node) metrics {
	t.Helper()
	resp, err := client.Get(n.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	a := readAnswer(t, resp)
	if a.status != http.StatusOK {
		t.Fatalf("/metrics: %d %q", a.status, a.body)
	}
	return parseMetrics(a.body)
}
