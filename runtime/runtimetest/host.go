package runtimetest

import (
	"context"
	"sync"

	"github.com/roadrunner-wasm/roadrunner/runtime"
)

// call collects what a guest sent and replied during one Deliver. It travels
// in the context, which also checks that an engine hands the caller's
// context to its host functions.
type call struct {
	mu      sync.Mutex
	replies [][]byte
	sends   []sent
}

type sent struct {
	from, to string
	data     []byte
}

type callKey struct{}

func withCall(ctx context.Context) (context.Context, *call) {
	c := &call{}
	return context.WithValue(ctx, callKey{}, c), c
}

// host is the suite's runtime.Host. Sends to "peer" succeed, sends to
// "failing" return CodeReceiverFailed, anything else CodeUnknownFunction.
// Every call records a copy of what it was given.
type host struct {
	mu     sync.Mutex
	orphan int // host calls that arrived without the suite's context
	calls  int
}

func (h *host) record(ctx context.Context) *call {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
	c, _ := ctx.Value(callKey{}).(*call)
	if c == nil {
		h.orphan++
	}
	return c
}

func (h *host) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls
}

func (h *host) Send(ctx context.Context, from, to string, payload []byte) error {
	c := h.record(ctx)
	if c == nil {
		return runtime.CodeInternal
	}
	c.mu.Lock()
	c.sends = append(c.sends, sent{from: from, to: to, data: append([]byte(nil), payload...)})
	c.mu.Unlock()
	switch to {
	case "peer":
		return nil
	case "failing":
		return &runtime.DeliverError{Function: to, Op: runtime.ExportHandle, Code: runtime.CodeReceiverFailed, Result: 1}
	default:
		return runtime.CodeUnknownFunction
	}
}

func (h *host) Reply(ctx context.Context, from string, payload []byte) error {
	c := h.record(ctx)
	if c == nil {
		return runtime.CodeNoInvocation
	}
	c.mu.Lock()
	c.replies = append(c.replies, append([]byte(nil), payload...))
	c.mu.Unlock()
	return nil
}
