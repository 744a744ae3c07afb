package transport

import "github.com/roadrunner-wasm/roadrunner/transport/wire"

// TraceContext is a W3C trace context (the binary form of a traceparent
// header, without tracestate) that a DATA frame carries to the receiving
// node: SendOptions.Trace on the sending side, Origin.Trace on the
// receiving one. The zero value is none. The package only carries it; the
// application makes and reads its spans (node converts to and from
// OpenTelemetry's SpanContext).
type TraceContext = wire.TraceContext
