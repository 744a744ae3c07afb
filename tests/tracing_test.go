//go:build tracing

package tests

// OpenTelemetry across three rrnode processes, exported to a real Jaeger
// (all-in-one, memory storage): the example pipeline split over the nodes,
// producer → transform over unix, transform → consumer over tcp, invoked
// with a traceparent the test made; Jaeger's query API must then hold one
// trace with every hop's span, linked parent to child across the nodes.
//
// Build tag tracing: make test-tracing builds Jaeger (tests/jaeger, a
// module of its own) and runs this with RR_JAEGER set.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/internal/privileged"
)

// jaeger is a running Jaeger all-in-one.
type jaeger struct {
	otlpHTTP, otlpGRPC string // host:port of its OTLP receivers
	query              string // http://host:port of its query API
	log                *logBuf
}

// startJaeger runs the Jaeger binary bin on loopback ports of its own:
// OTLP over gRPC and HTTP in, traces kept in memory, the query API out.
// It returns once the query API answers.
func startJaeger(t *testing.T, bin string) *jaeger {
	t.Helper()
	j := &jaeger{otlpHTTP: freePort(t), otlpGRPC: freePort(t), log: &logBuf{}}
	queryAddr, queryGRPC, health := freePort(t), freePort(t), freePort(t)
	j.query = "http://" + queryAddr
	config := fmt.Sprintf(`service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    traces:
      level: none
    logs:
      level: info
extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: %s
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: %s
    grpc:
      endpoint: %s
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 1000
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: %s
      http:
        endpoint: %s
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`, health, queryAddr, queryGRPC, j.otlpGRPC, j.otlpHTTP)
	file := filepath.Join(t.TempDir(), "jaeger.yaml")
	if err := os.WriteFile(file, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", file)
	cmd.Stdout, cmd.Stderr = j.log, j.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start jaeger %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("jaeger output (end):\n%s", j.log.tail(8<<10))
		}
	})
	deadline := time.Now().Add(2 * time.Minute)
	for {
		select {
		case err := <-exited:
			t.Fatalf("jaeger exited before it served: %v\n%s", err, j.log.tail(8<<10))
		default:
		}
		resp, err := http.Get(j.query + "/api/services")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return j
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("jaeger's query API did not answer within 2m: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// jaegerSpan is a span as Jaeger's query API returns it.
type jaegerSpan struct {
	TraceID       string `json:"traceID"`
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	References    []struct {
		RefType string `json:"refType"`
		TraceID string `json:"traceID"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
	StartTime int64 `json:"startTime"` // µs
	Duration  int64 `json:"duration"`  // µs
	Tags      []struct {
		Key   string `json:"key"`
		Type  string `json:"type"`
		Value any    `json:"value"`
	} `json:"tags"`
	ProcessID string `json:"processID"`
}

type jaegerTrace struct {
	TraceID   string       `json:"traceID"`
	Spans     []jaegerSpan `json:"spans"`
	Processes map[string]struct {
		ServiceName string `json:"serviceName"`
		Tags        []struct {
			Key   string `json:"key"`
			Value any    `json:"value"`
		} `json:"tags"`
	} `json:"processes"`
}

// tag is the span's tag key as a string ("" if absent).
func (s *jaegerSpan) tag(key string) string {
	for _, tg := range s.Tags {
		if tg.Key == key {
			if f, ok := tg.Value.(float64); ok { // a JSON number
				return strconv.FormatFloat(f, 'f', -1, 64)
			}
			return fmt.Sprint(tg.Value)
		}
	}
	return ""
}

// parent is the span id of the span's CHILD_OF reference ("" if none).
func (s *jaegerSpan) parent() string {
	for _, r := range s.References {
		if r.RefType == "CHILD_OF" {
			return r.SpanID
		}
	}
	return ""
}

// trace polls Jaeger until the trace id holds want spans, and returns it.
func (j *jaeger) trace(t *testing.T, id string, want int) jaegerTrace {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	var last string
	for {
		resp, err := http.Get(j.query + "/api/traces/" + id)
		if err == nil {
			var body struct {
				Data []jaegerTrace `json:"data"`
			}
			err = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if err == nil && len(body.Data) == 1 {
				if len(body.Data[0].Spans) >= want {
					return body.Data[0]
				}
				last = fmt.Sprintf("%d spans", len(body.Data[0].Spans))
			} else {
				last = fmt.Sprintf("status %d, %v", resp.StatusCode, err)
			}
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("trace %s: not %d spans in Jaeger within 1m (last: %s)", id, want, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// withTracing inserts a node.tracing section into the config file.
func withTracing(t *testing.T, file, endpoint string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	section := "node:\n  tracing:\n    otlp_endpoint: " + endpoint + "\n    sample_ratio: 0.5\n"
	if err := os.WriteFile(file, bytes.Replace(b, []byte("node:\n"), []byte(section), 1), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestTracingJaeger(t *testing.T) {
	bin := os.Getenv("RR_JAEGER")
	if bin == "" {
		privileged.Skip(t, "RR_JAEGER is not set to a Jaeger all-in-one binary: make test-tracing builds one (tests/jaeger) and runs this test")
	}
	j := startJaeger(t, bin)
	tr := build(t)
	dir := shortDir(t)

	// c: the consumer, on tcp; b: the transform, on unix, sending to c;
	// a: the producer, sending to b. OTLP over HTTP from a and c, over
	// gRPC from b.
	cConf := nodeConfig{name: "c", listenTCP: "127.0.0.1:0", functions: []fn{consumerFn}}.write(t, tr, dir)
	withTracing(t, cConf, "http://"+j.otlpHTTP)
	c := launch(t, tr, "c", cConf, launchOpts{})
	sock := filepath.Join(dir, "b.sock")
	bConf := nodeConfig{name: "b", listenUnix: sock, functions: []fn{transformFn},
		peers: []peer{{name: "c", address: "tcp://" + c.listenAddr(t, "tcp"), functions: []string{"consumer"}}}}.write(t, tr, dir)
	withTracing(t, bConf, "grpc://"+j.otlpGRPC)
	launch(t, tr, "b", bConf, launchOpts{})
	aConf := nodeConfig{name: "a", functions: []fn{producerFn},
		peers: []peer{{name: "b", address: "unix://" + sock, functions: []string{"transform"}}}}.write(t, tr, dir)
	withTracing(t, aConf, "http://"+j.otlpHTTP+"/v1/traces")
	a := launch(t, tr, "a", aConf, launchOpts{})

	// The test's own span: trace and span ids of its making, sampled (the
	// nodes' sample_ratio 0.5 applies only to traces begun there).
	traceID, parentID := "5e1f2a3b4c5d6e7f8091a2b3c4d5e6f7", "a1b2c3d4e5f60718"
	payload := pattern(1 << 20)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.URL()+"/v1/functions/producer", bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Traceparent", "00-"+traceID+"-"+parentID+"-01")
	resp, err := a.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	// Rr-Trace is still there, for the curl user.
	checkRemotePipeline(t, readAnswer(t, resp), payload, "unix", "tcp")

	// a: invoke producer, its transfer, send transform, its transfer;
	// b: receive transform, its transfer, send consumer, its transfer;
	// c: receive consumer, its transfer.
	got := j.trace(t, traceID, 10)
	if len(got.Spans) != 10 {
		t.Errorf("%d spans, want 10", len(got.Spans))
	}
	byName := map[string][]*jaegerSpan{}
	byID := map[string]*jaegerSpan{}
	for i := range got.Spans {
		s := &got.Spans[i]
		byName[s.OperationName] = append(byName[s.OperationName], s)
		byID[s.SpanID] = s
		if s.TraceID != traceID {
			t.Errorf("%s: trace %s, want %s", s.OperationName, s.TraceID, traceID)
		}
	}
	one := func(name, node string) *jaegerSpan {
		t.Helper()
		for _, s := range byName[name] {
			if s.tag("rr.node") == node {
				return s
			}
		}
		var names []string
		for _, s := range got.Spans {
			names = append(names, s.OperationName+"@"+s.tag("rr.node"))
		}
		t.Fatalf("no span %q of node %s; spans: %s", name, node, strings.Join(names, ", "))
		return nil
	}
	n := uint64(len(payload))
	const header = 16 // msg.HeaderSize: the producer's header before the body
	for _, c := range []struct {
		name, node, parent   string // parent: a span of this trace, "name@node", or the test's id
		kind                 string
		from, to, path, mech string
		bytes                uint64
	}{
		{"invoke producer", "a", parentID, "server", "http", "producer", "http", "read", n},
		{"send transform", "a", "invoke producer@a", "client", "producer", "transform", "unix", "writev", n + header},
		{"receive transform", "b", "send transform@a", "server", "remote", "transform", "unix", "read", n + header},
		{"send consumer", "b", "receive transform@b", "client", "transform", "consumer", "tcp", "write", n + header},
		{"receive consumer", "c", "send consumer@b", "server", "remote", "consumer", "tcp", "read", n + header},
	} {
		s := one(c.name, c.node)
		wantParent := c.parent
		if name, node, ok := strings.Cut(c.parent, "@"); ok {
			wantParent = one(name, node).SpanID
		}
		if p := s.parent(); p != wantParent {
			t.Errorf("%s@%s: parent %s, want %s (%s)", c.name, c.node, p, wantParent, c.parent)
		}
		for key, want := range map[string]string{
			"span.kind": c.kind, "rr.from": c.from, "rr.function": c.to, "rr.path": c.path,
			"rr.mechanism": c.mech, "rr.bytes": fmt.Sprint(c.bytes), "rr.result": "ok",
		} {
			if got := s.tag(key); got != want {
				t.Errorf("%s@%s: %s = %q, want %q", c.name, c.node, key, got, want)
			}
		}
		if p := got.Processes[s.ProcessID]; p.ServiceName != "rrnode" || !slices.ContainsFunc(p.Tags, func(tg struct {
			Key   string `json:"key"`
			Value any    `json:"value"`
		}) bool {
			return tg.Key == "service.instance.id" && fmt.Sprint(tg.Value) == c.node
		}) {
			t.Errorf("%s@%s: process %+v, want service rrnode, instance %s", c.name, c.node, p, c.node)
		}
		// Its transfer: a child, from the hop's start, within it.
		var tr *jaegerSpan
		for _, x := range byName["transfer "+c.to] {
			if x.parent() == s.SpanID {
				tr = x
			}
		}
		if tr == nil {
			t.Errorf("%s@%s: no transfer span under it", c.name, c.node)
		} else if tr.StartTime != s.StartTime || tr.Duration > s.Duration {
			t.Errorf("%s@%s: transfer at %d µs for %d µs, not within the hop at %d µs for %d µs", c.name, c.node, tr.StartTime, tr.Duration, s.StartTime, s.Duration)
		}
	}
}
