package node_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/roadrunner-wasm/roadrunner/node"
	"github.com/roadrunner-wasm/roadrunner/transport"
)

// recorder is a TracerProvider that samples every span and keeps what
// ended in memory (the SDK's own in-memory exporter, synchronously).
type recorder struct {
	tp  *sdktrace.TracerProvider
	exp *tracetest.InMemoryExporter
}

func newRecorder(t *testing.T, sampler sdktrace.Sampler) *recorder {
	exp := tracetest.NewInMemoryExporter()
	if sampler == nil {
		sampler = sdktrace.AlwaysSample()
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithSampler(sampler))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	return &recorder{tp: tp, exp: exp}
}

// span returns the one span named name, failing the test unless there is
// exactly one.
func (r *recorder) span(t *testing.T, name string) tracetest.SpanStub {
	t.Helper()
	var found []tracetest.SpanStub
	for _, s := range r.exp.GetSpans() {
		if s.Name == name {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d spans named %q, want 1; spans: %s", len(found), name, r.names())
	}
	return found[0]
}

func (r *recorder) names() string {
	var names []string
	for _, s := range r.exp.GetSpans() {
		names = append(names, s.Name)
	}
	return strings.Join(names, ", ")
}

// attrs is a span's attributes by key.
func attrs(s tracetest.SpanStub) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, a := range s.Attributes {
		m[a.Key] = a.Value
	}
	return m
}

// checkHop checks a hop span's parent, kind and attributes.
func checkSpan(t *testing.T, s tracetest.SpanStub, parent trace.SpanContext, kind trace.SpanKind, want map[attribute.Key]string, bytes int64) {
	t.Helper()
	if s.Parent.TraceID() != parent.TraceID() || s.Parent.SpanID() != parent.SpanID() {
		t.Errorf("%s: parent %s/%s, want %s/%s", s.Name, s.Parent.TraceID(), s.Parent.SpanID(), parent.TraceID(), parent.SpanID())
	}
	if s.SpanKind != kind {
		t.Errorf("%s: kind %v, want %v", s.Name, s.SpanKind, kind)
	}
	got := attrs(s)
	for k, v := range want {
		if got[k].AsString() != v {
			t.Errorf("%s: %s = %q, want %q", s.Name, k, got[k].AsString(), v)
		}
	}
	if b := got[node.AttrBytes].AsInt64(); b != bytes {
		t.Errorf("%s: rr.bytes = %d, want %d", s.Name, b, bytes)
	}
	if s.EndTime.Before(s.StartTime) {
		t.Errorf("%s: ends before it starts", s.Name)
	}
}

// checkTransfer checks the transfer span of hop: its child, within it.
func checkTransfer(t *testing.T, r *recorder, hop tracetest.SpanStub, to, mech string) {
	t.Helper()
	s := r.span(t, "transfer "+to)
	if s.Parent.SpanID() != hop.SpanContext.SpanID() {
		t.Errorf("%s: parent %s, want its hop %s", s.Name, s.Parent.SpanID(), hop.SpanContext.SpanID())
	}
	if !s.StartTime.Equal(hop.StartTime) || s.EndTime.Before(s.StartTime) || s.EndTime.After(hop.EndTime) {
		t.Errorf("%s: %v to %v, not within its hop %v to %v", s.Name, s.StartTime, s.EndTime, hop.StartTime, hop.EndTime)
	}
	if m := attrs(s)[node.AttrMechanism].AsString(); m != mech {
		t.Errorf("%s: mechanism %q, want %q", s.Name, m, mech)
	}
}

// testParent is the span a test's client "made": the traceparent it sends.
var testParent = trace.NewSpanContext(trace.SpanContextConfig{
	TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
	SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
	TraceFlags: trace.FlagsSampled,
	Remote:     true,
})

func traceparent(sc trace.SpanContext) string {
	return "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-" + sc.TraceFlags().String()
}

// invokeTraced posts body to name with the given headers.
func (n *testNode) invokeTraced(t *testing.T, name string, body []byte, h http.Header) *response {
	t.Helper()
	req, err := http.NewRequest("POST", n.url+"/v1/functions/"+name, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	return do(t, req)
}

// TestTracingMemory: an HTTP ingress with a traceparent and a send on the
// memory path: the ingress span is the traceparent's child, the send's
// span the ingress's, each with its transfer; attributes say what happened;
// a failed send's span has an error status; without a traceparent a new
// trace begins.
func TestTracingMemory(t *testing.T) {
	rec := newRecorder(t, nil)
	n := startNode(t, "", &node.Options{TracerProvider: rec.tp})
	data := pattern(1 << 10)
	body := append([]byte("forward echo\n"), data...)
	r := n.invokeTraced(t, "relay", body, http.Header{"Traceparent": {traceparent(testParent)}, "Tracestate": {"rr=test"}})
	if r.status != 200 || !bytes.Equal(r.body, data) {
		t.Fatalf("status %d, %d bytes", r.status, len(r.body))
	}
	name := n.Name()
	in := rec.span(t, "invoke relay")
	checkSpan(t, in, testParent, trace.SpanKindServer, map[attribute.Key]string{
		node.AttrFunction: "relay", node.AttrFrom: "http", node.AttrNode: name, node.AttrPath: "http", node.AttrMechanism: "read", node.AttrResult: "ok",
	}, int64(len(body)))
	if !in.Parent.IsRemote() || in.SpanContext.TraceState().Get("rr") != "test" {
		t.Errorf("ingress span: parent remote %v, tracestate %q: want the traceparent's, with its tracestate", in.Parent.IsRemote(), in.SpanContext.TraceState())
	}
	send := rec.span(t, "send echo")
	checkSpan(t, send, in.SpanContext, trace.SpanKindInternal, map[attribute.Key]string{
		node.AttrFunction: "echo", node.AttrFrom: "relay", node.AttrNode: name, node.AttrPath: "memory", node.AttrMechanism: "copy", node.AttrResult: "ok",
	}, int64(len(data)))
	checkTransfer(t, rec, in, "relay", "read")
	checkTransfer(t, rec, send, "echo", "copy")
	if len(rec.exp.GetSpans()) != 4 {
		t.Errorf("spans: %s; want 4", rec.names())
	}
	for _, s := range rec.exp.GetSpans() {
		if s.Status.Code == otelcodes.Error {
			t.Errorf("%s: error status %q", s.Name, s.Status.Description)
		}
	}

	// A send that fails: error status on the send and on the ingress.
	rec.exp.Reset()
	if r := n.invoke(t, "relay", []byte("forward ghost\nx")); r.status != 500 {
		t.Fatalf("forward ghost: status %d", r.status)
	}
	in = rec.span(t, "invoke relay")
	if in.Parent.IsValid() {
		t.Errorf("without a traceparent the ingress span has parent %s: want a new trace", in.Parent.SpanID())
	}
	ghost := rec.span(t, "send ghost")
	if ghost.Parent.SpanID() != in.SpanContext.SpanID() || ghost.SpanContext.TraceID() != in.SpanContext.TraceID() {
		t.Errorf("send ghost is not the ingress's child")
	}
	if a := attrs(ghost); a[node.AttrResult].AsString() != "unknown_function" || ghost.Status.Code != otelcodes.Error || !strings.Contains(ghost.Status.Description, "no such function") {
		t.Errorf("send ghost: result %q, status %v %q", a[node.AttrResult].AsString(), ghost.Status.Code, ghost.Status.Description)
	}
	if in.Status.Code != otelcodes.Error || attrs(in)[node.AttrResult].AsString() != "receiver_failed" {
		t.Errorf("ingress of a failed chain: status %v, result %q", in.Status.Code, attrs(in)[node.AttrResult].AsString())
	}
	for _, s := range rec.exp.GetSpans() {
		if s.Name == "transfer ghost" {
			t.Error("a transfer span for a payload that never landed")
		}
	}

	// Invoke joins the span of its context.
	rec.exp.Reset()
	ctx, parent := rec.tp.Tracer("test").Start(context.Background(), "caller")
	if _, err := n.Invoke(ctx, "echo", 1, func(dst []byte) error { dst[0] = 'x'; return nil }, io.Discard); err != nil {
		t.Fatal(err)
	}
	parent.End()
	if in := rec.span(t, "invoke echo"); in.Parent.SpanID() != parent.SpanContext().SpanID() {
		t.Errorf("Invoke's span has parent %s, want the caller's %s", in.Parent.SpanID(), parent.SpanContext().SpanID())
	}
}

// startTracedPair starts back (listening on path) and front (sending to
// back), each with its own provider, as two processes would have.
func startTracedPair(t *testing.T, path transport.Path, frontOpts, backOpts *node.Options) (front, back *testNode) {
	t.Helper()
	return startPairOpts(t, path, frontOpts, backOpts)
}

// TestTracingRemote: across two nodes (unix and tcp), the peer's arrival
// span is the child of the sending hop's span, in the same trace, and the
// hops it makes are its children.
func TestTracingRemote(t *testing.T) {
	for _, path := range []transport.Path{transport.PathUnix, transport.PathTCP} {
		t.Run(path.String(), func(t *testing.T) {
			frec, brec := newRecorder(t, nil), newRecorder(t, nil)
			front, _ := startTracedPair(t, path, &node.Options{TracerProvider: frec.tp}, &node.Options{TracerProvider: brec.tp})
			data := pattern(64 << 10)
			r := front.invokeTraced(t, "relay", append([]byte("forward brelay\nforward echo\n"), data...), http.Header{"Traceparent": {traceparent(testParent)}})
			if r.status != 200 || !bytes.Equal(r.body, data) {
				t.Fatalf("status %d, %d bytes", r.status, len(r.body))
			}
			in := frec.span(t, "invoke relay")
			checkSpan(t, in, testParent, trace.SpanKindServer, map[attribute.Key]string{node.AttrNode: "front"}, int64(len("forward brelay\nforward echo\n")+len(data)))
			send := frec.span(t, "send brelay")
			mech := "writev"
			if path == transport.PathTCP {
				mech = "write" // auto, on loopback
			}
			checkSpan(t, send, in.SpanContext, trace.SpanKindClient, map[attribute.Key]string{
				node.AttrFunction: "brelay", node.AttrFrom: "relay", node.AttrNode: "front", node.AttrPath: path.String(), node.AttrMechanism: mech, node.AttrResult: "ok",
			}, int64(len("forward echo\n")+len(data)))
			checkTransfer(t, frec, send, "brelay", mech)

			arrive := brec.span(t, "receive brelay")
			checkSpan(t, arrive, send.SpanContext, trace.SpanKindServer, map[attribute.Key]string{
				node.AttrFunction: "brelay", node.AttrFrom: "remote", node.AttrNode: "back", node.AttrPath: path.String(), node.AttrMechanism: "read", node.AttrResult: "ok",
			}, int64(len("forward echo\n")+len(data)))
			if !arrive.Parent.IsRemote() || arrive.Parent.TraceFlags() != trace.FlagsSampled {
				t.Errorf("the arrival's parent: remote %v, flags %v", arrive.Parent.IsRemote(), arrive.Parent.TraceFlags())
			}
			echo := brec.span(t, "send echo")
			checkSpan(t, echo, arrive.SpanContext, trace.SpanKindInternal, map[attribute.Key]string{node.AttrNode: "back", node.AttrPath: "memory"}, int64(len(data)))
			checkTransfer(t, brec, arrive, "brelay", "read")
		})
	}
}

// TestTracingOff: a node without tracing makes no span, and neither
// reads nor sends a trace context: its peer's arrival begins a new trace.
func TestTracingOff(t *testing.T) {
	brec := newRecorder(t, nil)
	front, _ := startTracedPair(t, transport.PathUnix, nil, &node.Options{TracerProvider: brec.tp})
	r := front.invokeTraced(t, "relay", []byte("forward echo\nx"), http.Header{"Traceparent": {traceparent(testParent)}})
	if r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	arrive := brec.span(t, "receive echo")
	if arrive.Parent.IsValid() || arrive.SpanContext.TraceID() == testParent.TraceID() {
		t.Errorf("the arrival joined trace %s (parent %s): want a new trace", arrive.SpanContext.TraceID(), arrive.Parent.SpanID())
	}
}

// otlpReceiver is an OTLP receiver, over HTTP and gRPC, that keeps the
// spans it is sent: what a collector would get.
type otlpReceiver struct {
	collectortrace.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans map[string][]string // trace id (hex) -> span names
	posts int
}

func (o *otlpReceiver) add(req *collectortrace.ExportTraceServiceRequest) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.posts++
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				id := hex.EncodeToString(s.TraceId)
				o.spans[id] = append(o.spans[id], s.Name)
			}
		}
	}
}

func (o *otlpReceiver) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	o.add(req)
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	var req collectortrace.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(b, &req)
	}
	if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" || err != nil {
		http.Error(w, fmt.Sprintf("%s %s: %v", r.URL.Path, r.Header.Get("Content-Type"), err), http.StatusBadRequest)
		return
	}
	o.add(&req)
	out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

func (o *otlpReceiver) traces() map[string][]string {
	o.mu.Lock()
	defer o.mu.Unlock()
	m := map[string][]string{}
	for k, v := range o.spans {
		m[k] = append([]string(nil), v...)
	}
	return m
}

// startOTLP serves an otlpReceiver on loopback over http or grpc and
// returns it with its endpoint for node.tracing.otlp_endpoint.
func startOTLP(t *testing.T, scheme string) (*otlpReceiver, string) {
	o := &otlpReceiver{spans: map[string][]string{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	switch scheme {
	case "http":
		srv := &http.Server{Handler: o}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
	case "grpc":
		srv := grpc.NewServer()
		collectortrace.RegisterTraceServiceServer(srv, o)
		go srv.Serve(ln)
		t.Cleanup(srv.Stop)
	}
	return o, scheme + "://" + ln.Addr().String()
}

// tracingConfig is testConfig with a node.tracing section.
func tracingConfig(section string) string {
	return strings.Replace(testConfig, "node:\n", "node:\n  name: traced\n  tracing:\n"+section, 1)
}

// TestTracingOTLP: node.tracing's own provider exports to a real OTLP
// receiver, over HTTP and gRPC, on Shutdown at the latest; sample_ratio 0
// exports nothing of a trace begun here, yet passes the (unsampled) trace
// context on to a peer, which keeps the decision; a traceparent that says
// sampled is sampled whatever the ratio.
func TestTracingOTLP(t *testing.T) {
	for _, scheme := range []string{"http", "grpc"} {
		t.Run(scheme, func(t *testing.T) {
			recv, endpoint := startOTLP(t, scheme)
			cfg := tracingConfig("    otlp_endpoint: " + endpoint + "\n    sample_ratio: 1\n")
			n := startNode(t, cfg, nil)
			r := n.invokeTraced(t, "relay", []byte("forward echo\nx"), http.Header{"Traceparent": {traceparent(testParent)}})
			if r.status != 200 {
				t.Fatalf("status %d", r.status)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := n.Shutdown(ctx); err != nil { // flushes the batch
				t.Fatal(err)
			}
			got := recv.traces()[testParent.TraceID().String()]
			slices.Sort(got)
			want := []string{"invoke relay", "send echo", "transfer echo", "transfer relay"}
			if !slices.Equal(got, want) {
				t.Fatalf("the receiver got %q for the trace, want %q (all: %v)", got, want, recv.traces())
			}
		})
	}

	t.Run("sample_ratio 0", func(t *testing.T) {
		recv, endpoint := startOTLP(t, "http")
		brec := newRecorder(t, nil) // samples everything: shows what arrived
		backCfg := strings.Replace(backConfig, "node:\n", "node:\n  tracing:\n    otlp_endpoint: "+endpoint+"\n    sample_ratio: 0\n", 1)
		backCfg = strings.Replace(backCfg, "{{listen}}", "    unix: "+filepath.Join(t.TempDir(), "back.sock"), 1)
		back := startNode(t, backCfg, &node.Options{TracerProvider: brec.tp})
		lns, err := back.Listen(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		go back.ServeTransport(transport.PathUnix, lns[transport.PathUnix])
		frontCfg := strings.Replace(frontConfig, "node:\n", "node:\n  tracing:\n    otlp_endpoint: "+endpoint+"\n    sample_ratio: 0\n", 1)
		frontCfg = strings.Replace(frontCfg, "{{address}}", "unix://"+lns[transport.PathUnix].Addr().String(), 1)
		front := startNode(t, frontCfg, nil)

		if r := front.invoke(t, "relay", []byte("forward echo\nx")); r.status != 200 {
			t.Fatalf("status %d", r.status)
		}
		// A sampled traceparent is sampled all the same.
		if r := front.invokeTraced(t, "relay", []byte("forward echo\ny"), http.Header{"Traceparent": {traceparent(testParent)}}); r.status != 200 {
			t.Fatalf("status %d", r.status)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := front.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		traces := recv.traces()
		if len(traces) != 1 || len(traces[testParent.TraceID().String()]) != 4 {
			t.Fatalf("the receiver got %v: want only the traceparent's trace, 4 spans", traces)
		}
		var arrivals []tracetest.SpanStub
		for _, s := range brec.exp.GetSpans() {
			if s.Name == "receive echo" {
				arrivals = append(arrivals, s)
			}
		}
		if len(arrivals) != 2 {
			t.Fatalf("back's spans: %s", brec.names())
		}
		first, second := arrivals[0], arrivals[1]
		if !first.Parent.IsValid() || first.Parent.IsSampled() || first.SpanContext.TraceID() == testParent.TraceID() {
			t.Errorf("unsampled: back's arrival has parent %v (sampled %v): want front's unsampled span", first.Parent.SpanID(), first.Parent.IsSampled())
		}
		if second.SpanContext.TraceID() != testParent.TraceID() || !second.Parent.IsSampled() {
			t.Errorf("sampled: back's arrival in trace %s, parent sampled %v", second.SpanContext.TraceID(), second.Parent.IsSampled())
		}
	})
}

// TestTracingConfig: node.tracing's defaults and its refusals, named by
// field.
func TestTracingConfig(t *testing.T) {
	module := filepath.Join(t.TempDir(), "m.wasm")
	if err := os.WriteFile(module, []byte("\x00asm"), 0o644); err != nil {
		t.Fatal(err)
	}
	parse := func(section string) (*node.Config, error) {
		return node.ParseConfig([]byte("node:\n  tracing:\n"+section+"functions:\n  - {name: f, module: "+module+"}\n"), "rr.yaml")
	}
	cfg, err := parse("    otlp_endpoint: \"\"\n")
	if err != nil {
		t.Fatal(err)
	}
	if tc := cfg.Node.Tracing; tc != (node.TracingConfig{}) {
		t.Errorf("without settings: %+v, want the zero value (New applies the defaults)", tc)
	}
	cfg, err = parse("    sample_ratio: 0\n")
	if err != nil || cfg.Node.Tracing.SampleRatio == nil || *cfg.Node.Tracing.SampleRatio != 0 {
		t.Errorf("sample_ratio 0: %+v, %v", cfg.Node.Tracing, err)
	}
	for _, ok := range []string{"http://127.0.0.1:4318", "https://collector.example:4318/otlp/v1/traces", "grpc://[::1]:4317", "grpcs://otel.example:443"} {
		if _, err := parse("    otlp_endpoint: " + ok + "\n    sample_ratio: 0.25\n    service_name: edge\n"); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, c := range []struct{ section, field, says string }{
		{"    otlp_endpoint: 127.0.0.1:4317\n", "node.tracing.otlp_endpoint", "want http://host:port"},
		{"    otlp_endpoint: collector:4317\n", "node.tracing.otlp_endpoint", "unknown scheme \"collector\""},
		{"    otlp_endpoint: udp://127.0.0.1:4317\n", "node.tracing.otlp_endpoint", "unknown scheme"},
		{"    otlp_endpoint: http://collector\n", "node.tracing.otlp_endpoint", "no host:port"},
		{"    otlp_endpoint: grpc://collector:4317/v1/traces\n", "node.tracing.otlp_endpoint", "takes no path"},
		{"    otlp_endpoint: http://u:p@collector:4318\n", "node.tracing.otlp_endpoint", "user, query or fragment"},
		{"    otlp_endpoint: http://collector:port\n", "node.tracing.otlp_endpoint", "want http://host:port"},
		{"    sample_ratio: 1.5\n", "node.tracing.sample_ratio", "out of range 0..1"},
		{"    sample_ratio: -0.1\n", "node.tracing.sample_ratio", "out of range 0..1"},
		{"    sample_ratio: .nan\n", "node.tracing.sample_ratio", "want a number from 0 to 1"},
		{"    sample_ratio: half\n", "node.tracing.sample_ratio", "want a number from 0 to 1"},
		{"    sample_ratio: \"0.5\"\n", "node.tracing.sample_ratio", "want a number from 0 to 1"},
		{"    sample: 1\n", "node.tracing.sample", "unknown field"},
	} {
		_, err := parse(c.section)
		var ce *node.ConfigError
		if !errors.As(err, &ce) || ce.Field != c.field || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%q: %v; want a ConfigError on %s saying %q", c.section, err, c.field, c.says)
		}
	}
}

// TestTracingAllocs: with tracing off a send on the memory path allocates
// nothing (TestSendAllocs; here with a node.tracing section present but no
// endpoint); with tracing on and every trace sampled, each send's span and
// its transfer's cost a bounded number of allocations.
func TestTracingAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts: sync.Pool drops items at random under the race detector; make test runs this test again without -race")
	}
	const runs, sends = 20, 100
	// perSend is the allocations per send, Roadrunner's and all of them.
	perSend := func(n *testNode) (ours, total float64) {
		invoke := func(k int) func() {
			body := fmt.Appendf(nil, "repeat %d counter\nx", k)
			fill := func(dst []byte) error { copy(dst, body); return nil }
			return func() {
				if _, err := n.Invoke(context.Background(), "relay", uint64(len(body)), fill, nil); err != nil {
					t.Fatal(err)
				}
			}
		}
		invoke(sends)()
		base := allocSites(runs, invoke(0))
		with := allocSites(runs, invoke(sends))
		var all int64
		for owner := range with {
			all += with[owner] - base[owner]
		}
		return float64(with[ownerRoadrunner]-base[ownerRoadrunner]) / (runs * sends), float64(all) / (runs * sends)
	}
	config := strings.ReplaceAll(testConfig, "pool: 1,", "pool: 1, interruptible: false,")
	config = strings.ReplaceAll(config, "pool: 4}", "pool: 4, interruptible: false}")
	off := startNode(t, strings.Replace(config, "node:\n", "node:\n  tracing:\n    sample_ratio: 1\n", 1), nil)
	if ours, all := perSend(off); ours >= 0.01 {
		t.Errorf("tracing off: Roadrunner's code allocates %.3f times per send (%.3f in all), want 0", ours, all)
	}
	rec := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discard{}), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	t.Cleanup(func() { rec.Shutdown(context.Background()) })
	on := startNode(t, config, &node.Options{TracerProvider: rec})
	_, got := perSend(on)
	t.Logf("tracing on, every trace sampled: %.1f allocations per send (its span and its transfer's)", got)
	if got > 40 {
		t.Errorf("tracing on: %.1f allocations per send, want at most 40", got)
	}
}

// discard is a span exporter that drops what it is given: the batch
// processor's work without a collector's.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }
