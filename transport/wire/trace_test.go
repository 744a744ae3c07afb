package wire_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

// testTrace is the traceparent of the W3C specification's example,
// 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.
var testTrace = wire.TraceContext{
	TraceID: [16]byte{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
	SpanID:  [8]byte{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
	Flags:   wire.TraceFlagSampled,
}

// traceFrame is a DATA frame with FlagTrace and tc between name and payload.
func traceFrame(h wire.Header, name []byte, tc wire.TraceContext, payload []byte) []byte {
	h.Flags |= wire.FlagTrace
	b := append(wire.AppendHeader(nil, &h), name...)
	var t [wire.TraceContextSize]byte
	tc.Put(t[:])
	b = append(b, t[:]...)
	return append(b, payload...)
}

func TestTraceContextLayout(t *testing.T) {
	var b [wire.TraceContextSize]byte
	testTrace.Put(b[:])
	want := "00" + "4bf92f3577b34da6a3ce929d0e0e4736" + "00f067aa0ba902b7" + "01"
	if got := hex.EncodeToString(b[:]); got != want {
		t.Fatalf("encoded %s, want %s", got, want)
	}
	if got := testTrace.String(); got != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" {
		t.Errorf("String() = %s", got)
	}
	tc, err := wire.ParseTraceContext(b[:])
	if err != nil || tc != testTrace {
		t.Fatalf("ParseTraceContext = %+v, %v", tc, err)
	}
	if !tc.Valid() {
		t.Error("the example is not Valid")
	}
}

// TestTraceContextRefused: each rule of ParseTraceContext, with its field
// and reason.
func TestTraceContextRefused(t *testing.T) {
	good := func() []byte {
		var b [wire.TraceContextSize]byte
		testTrace.Put(b[:])
		return b[:]
	}
	for _, tc := range []struct {
		name   string
		edit   func(b []byte) []byte
		reason string
	}{
		{"short", func(b []byte) []byte { return b[:wire.TraceContextSize-1] }, "truncated"},
		{"version", func(b []byte) []byte { b[0] = 1; return b }, "version not 0"},
		{"version ff", func(b []byte) []byte { b[0] = 0xff; return b }, "version not 0"},
		{"trace id", func(b []byte) []byte { clear(b[1:17]); return b }, "trace id all zero"},
		{"span id", func(b []byte) []byte { clear(b[17:25]); return b }, "span id all zero"},
		{"flags", func(b []byte) []byte { b[25] = 0x04; return b }, "flags other than"},
		{"flags ff", func(b []byte) []byte { b[25] = 0xff; return b }, "flags other than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := wire.ParseTraceContext(tc.edit(good()))
			var fe *wire.FrameError
			if !errors.As(err, &fe) || !errors.Is(err, wire.ErrBadFrame) || fe.Field != "trace" || !bytes.Contains([]byte(fe.Reason), []byte(tc.reason)) {
				t.Fatalf("ParseTraceContext: %v, want a bad frame, field trace, reason %q", err, tc.reason)
			}
			if (tc.name == "short") != errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("%v: wraps io.ErrUnexpectedEOF only when truncated", err)
			}
		})
	}
	// Random and sampled together are W3C's level 2 flags: accepted.
	b := good()
	b[25] = wire.TraceFlagSampled | wire.TraceFlagRandom
	if _, err := wire.ParseTraceContext(b); err != nil {
		t.Errorf("flags 03: %v", err)
	}
	b[25] = 0
	if _, err := wire.ParseTraceContext(b); err != nil {
		t.Errorf("flags 00 (not sampled): %v", err)
	}
}

// TestReadTraceFrame: a DATA frame with FlagTrace reads as header, name,
// trace context and payload, whole or byte by byte; one cut inside its
// trace context is truncated; the flag on any other kind is refused.
func TestReadTraceFrame(t *testing.T) {
	payload := []byte("the payload")
	h := dataHeader("consumer", payload, true)
	b := traceFrame(h, []byte("consumer"), testTrace, payload)
	for _, r := range []io.Reader{bytes.NewReader(b), iotest.OneByteReader(bytes.NewReader(b))} {
		var hb [wire.HeaderSize]byte
		got, err := wire.ReadHeader(r, &hb, wire.Limits{})
		if err != nil || got.Flags&wire.FlagTrace == 0 {
			t.Fatalf("ReadHeader: %+v, %v", got, err)
		}
		if _, err := wire.ReadName(r, got, nil); err != nil {
			t.Fatal(err)
		}
		var tb [wire.TraceContextSize]byte
		tc, err := wire.ReadTraceContext(r, got, &tb)
		if err != nil || tc != testTrace {
			t.Fatalf("ReadTraceContext = %+v, %v", tc, err)
		}
		p := make([]byte, got.PayloadLen)
		if err := wire.ReadPayload(r, got, p); err != nil || !bytes.Equal(p, payload) {
			t.Fatalf("ReadPayload = %q, %v", p, err)
		}
	}
	// Without the flag nothing is read.
	plain := dataHeader("consumer", payload, false)
	var tb [wire.TraceContextSize]byte
	if tc, err := wire.ReadTraceContext(iotest.ErrReader(errors.New("read")), plain, &tb); err != nil || tc != (wire.TraceContext{}) {
		t.Errorf("ReadTraceContext without the flag = %+v, %v", tc, err)
	}
	// Cut inside the trace context.
	cut := b[wire.HeaderSize+len("consumer") : wire.HeaderSize+len("consumer")+10]
	h.Flags |= wire.FlagTrace
	if _, err := wire.ReadTraceContext(bytes.NewReader(cut), h, &tb); !errors.Is(err, io.ErrUnexpectedEOF) || !errors.Is(err, wire.ErrBadFrame) {
		t.Errorf("a trace context cut short: %v", err)
	}
	for _, k := range []wire.Kind{wire.KindAck, wire.KindHello, wire.KindReply, wire.KindHops, wire.KindDirectory, wire.KindShmDone} {
		bad := wire.Header{Kind: k, Flags: wire.FlagTrace, ID: 1}
		if k == wire.KindShmDone {
			bad.Status = wire.ShmStream
		}
		var fe *wire.FrameError
		if err := bad.Validate(wire.Limits{}); !errors.As(err, &fe) || fe.Field != "flags" {
			t.Errorf("FlagTrace on %v: %v, want a flags error", k, err)
		}
	}
}

func TestHelloTrace(t *testing.T) {
	h := wire.Hello{Name: "a", Trace: wire.TraceVersion}
	got, err := wire.ParseHello(h.Append(nil))
	if err != nil || got.Trace != wire.TraceVersion {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for _, b := range [][]byte{
		{wire.HelloTrace, 1, 0},
		{wire.HelloTrace, 2, 1, 1},
		{wire.HelloTrace, 1, 1, wire.HelloTrace, 1, 1},
	} {
		if _, err := wire.ParseHello(b); !errors.Is(err, wire.ErrBadFrame) {
			t.Errorf("ParseHello(% x) = %v, want a bad frame", b, err)
		}
	}
	// A HELLO without it: an old node, no trace context.
	if got, err := wire.ParseHello((&wire.Hello{Name: "a"}).Append(nil)); err != nil || got.Trace != 0 {
		t.Errorf("without the option: %+v, %v", got, err)
	}
}
