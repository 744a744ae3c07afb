package wire

import (
	"fmt"
	"io"
)

// Trace context (docs/PROTOCOL.md "Trace context"): a DATA frame with
// FlagTrace carries, between its name and its payload, the W3C trace
// context of the hop that sent it, TraceContextSize bytes:
//
//	offset  0  version   u8        0, as in a traceparent header "00-…"
//	offset  1  trace id  16 bytes  not all zero
//	offset 17  span id   8 bytes   the sending hop's span; not all zero
//	offset 25  flags     u8        W3C trace-flags: sampled (0x01), random (0x02)
//
// It is the binary form of a traceparent header. The tracestate header is
// not carried (docs/PROTOCOL.md says why). A sender sets FlagTrace only on
// a connection whose listener's HELLO had HelloTrace.
const (
	// FlagTrace says that TraceContextSize bytes of trace context follow
	// the name of a DATA frame. DATA frames only.
	FlagTrace Flags = 1 << 5
	// HelloTrace is 1 byte, TraceVersion: the sender takes (a listener)
	// or can send (a dialer) DATA frames with FlagTrace.
	HelloTrace = 11
	// TraceVersion is the version of the trace context block this
	// package speaks: the W3C traceparent version 00, in binary.
	TraceVersion = 1
	// TraceContextSize is the size of a DATA frame's trace context.
	TraceContextSize = 26
	// TraceFlagSampled and TraceFlagRandom are the W3C trace-flags a
	// trace context may carry; any other bit is refused.
	TraceFlagSampled = 0x01
	TraceFlagRandom  = 0x02
)

// TraceContext is a W3C trace context without its tracestate: the trace,
// the span of the hop that sent the frame (the receiver's parent), and the
// trace-flags. The zero value is no trace context.
type TraceContext struct {
	TraceID [16]byte
	SpanID  [8]byte
	Flags   byte
}

// Valid reports whether t can be sent: a trace id and a span id not all
// zero, and only the flags W3C defines.
func (t TraceContext) Valid() bool {
	return t.TraceID != [16]byte{} && t.SpanID != [8]byte{} && t.Flags&^(TraceFlagSampled|TraceFlagRandom) == 0
}

// Put encodes t into the first TraceContextSize bytes of b, as it is,
// valid or not. It panics if b is shorter and does not allocate.
func (t TraceContext) Put(b []byte) {
	_ = b[TraceContextSize-1]
	b[0] = 0
	copy(b[1:17], t.TraceID[:])
	copy(b[17:25], t.SpanID[:])
	b[25] = t.Flags
}

var (
	errTraceShort   = &FrameError{Field: "trace", Reason: "truncated", Err: io.ErrUnexpectedEOF}
	errTraceVersion = &FrameError{Field: "trace", Reason: "version not 0"}
	errTraceID      = &FrameError{Field: "trace", Reason: "trace id all zero"}
	errTraceSpan    = &FrameError{Field: "trace", Reason: "span id all zero"}
	errTraceFlags   = &FrameError{Field: "trace", Reason: "flags other than sampled (0x01) and random (0x02)"}
	errFlagsTrace   = &FrameError{Field: "flags", Reason: "trace flag on a frame other than DATA"}
)

// ParseTraceContext decodes and validates the trace context at the start
// of b: b holds TraceContextSize bytes (else the error wraps
// io.ErrUnexpectedEOF), the version is 0, neither id is all zero, and no
// flag but sampled and random is set. Its errors are *FrameError (a bad
// frame); it does not allocate.
func ParseTraceContext(b []byte) (TraceContext, error) {
	if len(b) < TraceContextSize {
		return TraceContext{}, errTraceShort
	}
	var t TraceContext
	copy(t.TraceID[:], b[1:17])
	copy(t.SpanID[:], b[17:25])
	t.Flags = b[25]
	switch {
	case b[0] != 0:
		return TraceContext{}, errTraceVersion
	case t.TraceID == [16]byte{}:
		return TraceContext{}, errTraceID
	case t.SpanID == [8]byte{}:
		return TraceContext{}, errTraceSpan
	case t.Flags&^(TraceFlagSampled|TraceFlagRandom) != 0:
		return TraceContext{}, errTraceFlags
	}
	return t, nil
}

// ReadTraceContext reads the trace context that follows the name of a DATA
// frame with FlagTrace into buf and parses it (ParseTraceContext). For a
// frame without the flag it reads nothing and returns the zero
// TraceContext. A trace context cut short is a *FrameError wrapping
// io.ErrUnexpectedEOF. It allocates only on r's own errors.
func ReadTraceContext(r io.Reader, h Header, buf *[TraceContextSize]byte) (TraceContext, error) {
	if h.Flags&FlagTrace == 0 {
		return TraceContext{}, nil
	}
	if _, err := io.ReadFull(r, buf[:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return TraceContext{}, errTraceShort
		}
		return TraceContext{}, fmt.Errorf("read frame trace context: %w", err)
	}
	return ParseTraceContext(buf[:])
}

// String is t as a traceparent header: 00-<trace id>-<span id>-<flags>,
// in lowercase hex.
func (t TraceContext) String() string {
	var b [55]byte
	const hex = "0123456789abcdef"
	put := func(at int, src []byte) {
		for i, c := range src {
			b[at+2*i], b[at+2*i+1] = hex[c>>4], hex[c&15]
		}
	}
	b[0], b[1], b[2] = '0', '0', '-'
	put(3, t.TraceID[:])
	b[35] = '-'
	put(36, t.SpanID[:])
	b[52] = '-'
	put(53, []byte{t.Flags})
	return string(b[:])
}

// traceSizeCheck pins TraceContextSize to the layout above.
var _ = [1]struct{}{}[TraceContextSize-1-16-8-1]
