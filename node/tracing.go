package node

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/roadrunner-wasm/roadrunner/transport"
)

// The attributes of a hop's span (docs/CONFIG.md "Tracing").
const (
	AttrFunction  = attribute.Key("rr.function")  // the function the hop delivers to
	AttrFrom      = attribute.Key("rr.from")      // the sending function, "http" for an HTTP ingress or Invoke, "remote" for a peer's payload
	AttrNode      = attribute.Key("rr.node")      // the node that made the hop
	AttrPath      = attribute.Key("rr.path")      // http, memory, unix or tcp
	AttrMechanism = attribute.Key("rr.mechanism") // what carried the payload: copy, read, writev, splice, iouring, shm, …
	AttrBytes     = attribute.Key("rr.bytes")     // the payload's size
	AttrResult    = attribute.Key("rr.result")    // the hop's ABI code as a label: ok, receiver_failed, …
)

// tracerName is the instrumentation scope of the node's spans.
const tracerName = "github.com/roadrunner-wasm/roadrunner/node"

// tracing is the node's OpenTelemetry side; a Node without tracing has
// none (nil), and each hook on the hot path is a nil check.
type tracing struct {
	tracer trace.Tracer
	// tp is the provider the node made from node.tracing, which it flushes
	// and shuts down when it closes; nil for Options.TracerProvider, the
	// embedding program's to shut down.
	tp   *sdktrace.TracerProvider
	node attribute.KeyValue // rr.node, on every span
}

// hopSpan is the span of a hop in flight. An invocation keeps those of its
// nested hops on a stack: a hop's span is the parent of the hops its
// receiver makes, and of the span of its transfer.
type hopSpan struct {
	span  trace.Span
	ctx   context.Context // carries span: the parent of the hops nested in it
	start time.Time
	to    string
}

// setupTracing makes the node's tracer: the embedding program's provider,
// or one exporting to node.tracing.otlp_endpoint; none if neither is set.
func (n *Node) setupTracing(ctx context.Context, given trace.TracerProvider) error {
	tc := n.cfg.Node.Tracing
	var tp trace.TracerProvider = given
	var own *sdktrace.TracerProvider
	if given == nil {
		if tc.OTLPEndpoint == "" {
			return nil
		}
		exp, err := newExporter(ctx, tc.OTLPEndpoint)
		if err != nil {
			return fmt.Errorf("tracing: %w", err)
		}
		service, ratio := tc.ServiceName, DefaultSampleRatio
		if service == "" {
			service = DefaultServiceName
		}
		if tc.SampleRatio != nil {
			ratio = *tc.SampleRatio
		}
		res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
			attribute.String("service.name", service),
			attribute.String("service.instance.id", n.Name()),
		))
		if err != nil {
			// Only a schema URL conflict between detectors; the
			// attributes of both are there all the same.
			n.log.Debug("tracing: resource", "err", err)
		}
		own = sdktrace.NewTracerProvider(
			sdktrace.WithBatcher(exp),
			sdktrace.WithResource(res),
			sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
		)
		tp = own
		n.log.Info("tracing on", "otlp_endpoint", tc.OTLPEndpoint, "sample_ratio", ratio, "service_name", service)
	}
	n.tr = &tracing{
		tracer: tp.Tracer(tracerName),
		tp:     own,
		node:   AttrNode.String(n.Name()),
	}
	return nil
}

// otlpEndpoint is node.tracing.otlp_endpoint, parsed.
type otlpEndpoint struct {
	grpc   bool
	secure bool
	host   string // host:port
	path   string // OTLP/HTTP's URL path
}

// parseOTLPEndpoint parses node.tracing.otlp_endpoint: scheme://host:port,
// with a path only for http and https.
func parseOTLPEndpoint(s string) (otlpEndpoint, error) {
	const want = "want http://host:port[/path], https://host:port[/path], grpc://host:port or grpcs://host:port"
	u, err := url.Parse(s)
	if err != nil {
		return otlpEndpoint{}, fmt.Errorf("%q: %s", s, want)
	}
	var e otlpEndpoint
	switch u.Scheme {
	case "http", "https":
		e.secure = u.Scheme == "https"
		e.path = u.Path
		if e.path == "" || e.path == "/" {
			e.path = "/v1/traces"
		}
	case "grpc", "grpcs":
		e.grpc, e.secure = true, u.Scheme == "grpcs"
		if u.Path != "" && u.Path != "/" {
			return otlpEndpoint{}, fmt.Errorf("%q: OTLP/gRPC takes no path; %s", s, want)
		}
	default:
		return otlpEndpoint{}, fmt.Errorf("%q: unknown scheme %q; %s", s, u.Scheme, want)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return otlpEndpoint{}, fmt.Errorf("%q: a user, query or fragment is not allowed; %s", s, want)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil || host == "" || port == "" {
		return otlpEndpoint{}, fmt.Errorf("%q: no host:port; %s", s, want)
	}
	if p, err := net.LookupPort("tcp", port); err != nil || p == 0 {
		return otlpEndpoint{}, fmt.Errorf("%q: port %q is not a port number; %s", s, port, want)
	}
	e.host = u.Host
	return e, nil
}

// newExporter makes the OTLP exporter of endpoint. It opens no connection:
// a collector that is down costs spans, not the node's start.
func newExporter(ctx context.Context, endpoint string) (sdktrace.SpanExporter, error) {
	e, err := parseOTLPEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	if e.grpc {
		opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(e.host)}
		if !e.secure {
			opts = append(opts, otlptracegrpc.WithInsecure())
		}
		return otlptracegrpc.New(ctx, opts...)
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpoint(e.host), otlptracehttp.WithURLPath(e.path)}
	if !e.secure {
		opts = append(opts, otlptracehttp.WithInsecure())
	}
	return otlptracehttp.New(ctx, opts...)
}

// shutdown exports the spans still queued and stops the provider the node
// made, within ctx. A collector that cannot be reached loses them: that is
// logged, and does not fail the node's shutdown.
func (t *tracing) shutdown(ctx context.Context, n *Node) {
	if t.tp == nil {
		return
	}
	if err := t.tp.Shutdown(ctx); err != nil {
		n.log.Warn("tracing: spans not exported at shutdown", "otlp_endpoint", n.cfg.Node.Tracing.OTLPEndpoint, "err", err)
	}
}

// traceHTTP makes an HTTP ingress join the trace of the request's
// traceparent (and tracestate) headers, unless the request's context
// carried a span already (a handler wrapped by the embedding program's
// instrumentation). Without tracing it does nothing.
func (n *Node) traceHTTP(inv *invocation, h http.Header) {
	if n.tr == nil || inv.parent.IsValid() || h.Get("Traceparent") == "" {
		return
	}
	ctx := propagation.TraceContext{}.Extract(context.Background(), propagation.HeaderCarrier(h))
	inv.parent = trace.SpanContextFromContext(ctx)
}

// traceFrom makes a payload from a peer join the trace its frame carried.
func (n *Node) traceFrom(inv *invocation, from *transport.Origin) {
	if n.tr == nil || !from.Trace.Valid() {
		return
	}
	inv.parent = trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    from.Trace.TraceID,
		SpanID:     from.Trace.SpanID,
		TraceFlags: trace.TraceFlags(from.Trace.Flags),
		Remote:     true,
	})
}

// startSpan starts the span of the hop startHop records, as a child of the
// hop in flight (whose receiver makes this one), or for the ingress of the
// invocation's parent: a traceparent, a peer's frame, a span of Invoke's
// ctx, or none (a new trace, sampled at node.tracing.sample_ratio).
func (t *tracing) startSpan(inv *invocation, from, to string, path transport.Path, bytes uint64) {
	var parent context.Context
	kind, name := trace.SpanKindInternal, "send "+to
	if k := len(inv.spans); k > 0 {
		parent = inv.spans[k-1].ctx
		if path != transport.PathMemory {
			kind = trace.SpanKindClient
		}
	} else {
		parent = context.Background()
		if inv.parent.IsValid() {
			parent = trace.ContextWithSpanContext(parent, inv.parent)
		}
		kind, name = trace.SpanKindServer, "invoke "+to
		if from == RemoteFrom {
			name = "receive " + to
		}
	}
	now := time.Now()
	ctx, span := t.tracer.Start(parent, name, trace.WithSpanKind(kind), trace.WithTimestamp(now))
	if span.IsRecording() {
		span.SetAttributes(
			AttrFunction.String(to),
			AttrFrom.String(from),
			t.node,
			AttrPath.String(path.String()),
			AttrBytes.Int64(int64(min(bytes, 1<<63-1))),
		)
	}
	inv.spans = append(inv.spans, hopSpan{span: span, ctx: ctx, start: now, to: to})
}

// endSpan ends the span of the innermost hop in flight: mech carried its
// payload, which sat in the receiver's memory landed after the hop began
// (0: it never did); code and err are the hop's result. The transfer gets
// a span of its own, the hop's child, from the hop's start until landed.
func (inv *invocation) endSpan(mech transport.Mechanism, landed time.Duration, code int, err error) {
	if inv.node.tr == nil {
		return
	}
	inv.node.tr.endSpan(inv, mech, landed, code, err)
}

func (t *tracing) endSpan(inv *invocation, mech transport.Mechanism, landed time.Duration, code int, err error) {
	k := len(inv.spans) - 1
	if k < 0 {
		return
	}
	h := inv.spans[k]
	inv.spans[k] = hopSpan{}
	inv.spans = inv.spans[:k]
	if h.span.IsRecording() {
		h.span.SetAttributes(AttrMechanism.String(mech.String()), AttrResult.String(codes[code].Label()))
		if err != nil {
			h.span.SetStatus(otelcodes.Error, firstLine(err))
		}
		if landed > 0 {
			_, ts := t.tracer.Start(h.ctx, "transfer "+h.to, trace.WithTimestamp(h.start), trace.WithAttributes(
				AttrMechanism.String(mech.String()), t.node,
			))
			ts.End(trace.WithTimestamp(h.start.Add(landed)))
		}
	}
	h.span.End()
}

// outgoing is the trace context a remote send carries to its peer: the
// span of the send's hop, which the peer's arrival span takes as its
// parent. Zero without tracing.
func (inv *invocation) outgoing() transport.TraceContext {
	k := len(inv.spans) - 1
	if inv.node.tr == nil || k < 0 {
		return transport.TraceContext{}
	}
	sc := inv.spans[k].span.SpanContext()
	if !sc.IsValid() {
		return transport.TraceContext{}
	}
	return transport.TraceContext{
		TraceID: sc.TraceID(),
		SpanID:  sc.SpanID(),
		Flags:   byte(sc.TraceFlags() & (trace.FlagsSampled | trace.FlagsRandom)),
	}
}
