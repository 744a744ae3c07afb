package node

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/roadrunner-wasm/roadrunner/transport"
	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

// IngressFrom is the from field of an invocation's first hop when it came
// over HTTP or Invoke; RemoteFrom when it came from a peer node.
const (
	IngressFrom = "http"
	RemoteFrom  = "remote"
)

// MaxTraceHops is the most hops a trace records. Hops past it still count in
// the metrics but are left out of the trace, so that a function sending in a
// loop cannot grow a trace without bound. The Rr-Trace trailer is further
// capped at MaxTraceHeader bytes.
const MaxTraceHops = 64

// Hop is one transfer of an invocation: the ingress, or one send.
type Hop struct {
	From string `json:"from"`
	To   string `json:"to"`
	// Path is http for an HTTP ingress, memory for a send to a function
	// of this node, unix or tcp for a send to a function of a peer node,
	// and for the ingress hop of a payload that arrived from one
	// (transport.Path's names).
	Path  string `json:"path"`
	Bytes uint64 `json:"bytes"`
	// TransferNS is the time from the hop's start until the payload sat in
	// the receiver's memory (instance, rr_alloc, copy or read); 0 if it
	// never did.
	TransferNS int64 `json:"transfer_ns"`
	// TotalNS is the time until the receiver's rr_handle returned, nested
	// hops included.
	TotalNS int64 `json:"total_ns"`
	// Result is the hop's ABI code as a label: "ok", "receiver_failed", …
	Result string `json:"result"`
	// Node is the node that made the hop, for the hops a peer made and
	// sent back with its ACK; empty for this node's own.
	Node string `json:"node,omitempty"`
	// Error is the host-side cause of the invocation's deepest failure,
	// at most MaxHopError bytes, on the one hop that failed first; empty
	// on every other hop. A peer fills it in the hops it reports, so that
	// the node the invocation began on can name a remote cause.
	Error string `json:"error,omitempty"`
}

// MaxHopError is the longest Hop.Error: a cause is one line, cut there.
const MaxHopError = 512

// Trace lists an invocation's hops in the order they started.
type Trace []Hop

// MaxTraceHeader is the longest Rr-Trace header or trailer a node sends.
// Go's HTTP client reads trailers through its 4 KiB connection buffer and
// refuses longer ones ("suspiciously long trailer"); other clients have
// similar limits. Hops that do not fit are left out, from the last.
const MaxTraceHeader = 3 << 10

// header is the trace as Rr-Trace carries it: JSON of at most
// MaxTraceHeader bytes, the hops that do not fit left out.
func (t Trace) header() string {
	s := t.String()
	for len(s) > MaxTraceHeader && len(t) > 0 {
		// Cut in proportion, then one by one.
		keep := min(len(t)-1, len(t)*MaxTraceHeader/len(s))
		t = t[:keep]
		s = t.String()
	}
	return s
}

// String is the trace as one line of JSON.
func (t Trace) String() string {
	if t == nil {
		t = Trace{}
	}
	b, _ := json.Marshal(t) // cannot fail: strings and integers only
	return string(b)
}

// invocation is what one ingress request carries down its chain of sends. It
// travels in the context handed to every Deliver of the chain, which the
// engine hands back to Host.Send and Host.Reply. A chain runs on one
// goroutine at a time (a guest's send blocks it until the receiver returns),
// so an invocation needs no lock. Invocations are pooled: their trace and
// chain keep their capacity, so that a send allocates nothing.
type invocation struct {
	node   *Node
	mem    transport.Memory // the memory path, delivering to the invocation (a Sink)
	ctx    context.Context  // carries the invocation; every Deliver of the chain gets it
	noWait context.Context  // ctx under runtime.WithoutWaiting, for a function already on the chain
	cancel context.CancelFunc
	stop   func() bool // unregisters the node's kill switch

	reply   io.Writer // nil: the invocation takes no reply
	replied bool
	relay   *replyRelay // a remote function's reply, to reply; made once

	trace Trace    // capacity MaxTraceHops
	chain []string // functions whose rr_handle is running, outermost first; capacity max_depth
	// base is the depth of the chain before it reached this node: what
	// the peer that sent the payload said (0 for an ingress).
	base int
	// source is where the invocation came from, for the functions'
	// admission (fairness between sources): an HTTP client's address, a
	// peer connection's source (transport.Origin.Source); "" for Invoke.
	source string
	// admitted is the function whose admission the caller took for the
	// invocation's first delivery (a chunked HTTP body, read only once
	// admitted): that delivery skips the gate, and the caller releases.
	admitted *function

	send   transport.SendOptions // a remote send's, reused
	hopsIn *hopsSink             // takes a peer's hops into the trace; made once

	// OpenTelemetry (tracing.go), with tracing on: the trace the
	// invocation joined (invalid: a new one), and the spans of its hops
	// in flight, innermost last.
	parent trace.SpanContext
	spans  []hopSpan

	// The ingress hop's fill: the caller's, timed.
	fill       func(dst []byte) error
	fillStart  time.Time
	landed     time.Duration
	timedFill  func(dst []byte) error // inv.timeFill, bound once
	fillFailed bool                   // the caller's fill failed: a bad request body, not a receiver failure

	// The invocation's deepest failure: the first hop to end with an
	// error (inner hops end first), its index in the trace (-1: none, or
	// past MaxTraceHops) and its cause. Set only on failure, so that
	// success allocates nothing for it.
	failed    bool
	failHop   int
	failCause string
	sendHop   int // the remote send in progress's hop: where a peer's own arrival failure goes
}

type invocationKey struct{}

// invocationOf returns the invocation ctx carries, or nil. It does not allocate.
func invocationOf(ctx context.Context) *invocation {
	inv, _ := ctx.Value(invocationKey{}).(*invocation)
	return inv
}

func newInvocation(n *Node, maxDepth int) *invocation {
	inv := &invocation{
		node:  n,
		trace: make(Trace, 0, MaxTraceHops),
		chain: make([]string, 0, maxDepth),
	}
	inv.mem.Sink = inv
	inv.timedFill = inv.timeFill
	inv.relay = &replyRelay{inv: inv}
	inv.hopsIn = &hopsSink{inv: inv}
	inv.failHop, inv.sendHop = -1, -1
	return inv
}

// depth is how many functions the chain holds, on this node and before it.
func (inv *invocation) depth() int { return inv.base + len(inv.chain) }

// Deliver implements transport.Sink for the invocation's memory path: a
// send from one function of the node to another, within the invocation.
func (inv *invocation) Deliver(_ context.Context, _ *transport.Origin, to string, size uint64, fill func(dst []byte) error) error {
	return inv.node.deliver(inv, to, size, fill)
}

func (inv *invocation) timeFill(dst []byte) error {
	if err := inv.fill(dst); err != nil {
		inv.fillFailed = true
		return err
	}
	inv.landed = max(time.Since(inv.fillStart), 1)
	return nil
}

// reset makes inv ready for the pool: it keeps only the capacity.
func (inv *invocation) reset() {
	clear(inv.trace)
	clear(inv.chain)
	clear(inv.spans[:cap(inv.spans)])
	*inv = invocation{
		spans:     inv.spans[:0],
		node:      inv.node,
		mem:       inv.mem,
		trace:     inv.trace[:0],
		chain:     inv.chain[:0],
		timedFill: inv.timedFill,
		relay:     inv.relay,
		hopsIn:    inv.hopsIn,
		failHop:   -1,
		sendHop:   -1,
	}
}

// startHop records the start of a hop and returns its index in the trace,
// or -1 if the trace is full.
func (inv *invocation) startHop(from, to string, path transport.Path, bytes uint64) int {
	if inv.node.tr != nil {
		inv.node.tr.startSpan(inv, from, to, path, bytes)
	}
	if len(inv.trace) == cap(inv.trace) {
		return -1
	}
	inv.trace = append(inv.trace, Hop{From: from, To: to, Path: path.String(), Bytes: bytes})
	return len(inv.trace) - 1
}

func (inv *invocation) endHop(i int, landed, total time.Duration, code int) {
	if i < 0 {
		return
	}
	h := &inv.trace[i]
	h.TransferNS = int64(landed)
	h.TotalNS = int64(total)
	h.Result = codes[code].Label()
}

// fail records err as the invocation's failure at hop i unless one was
// recorded already: hops end innermost first, so the first is the deepest.
// It is a no-op for a nil err.
func (inv *invocation) fail(i int, err error) {
	if err == nil || inv.failed {
		return
	}
	inv.failed, inv.failHop = true, i
	inv.failCause = cause(err)
	if i >= 0 {
		inv.trace[i].Error = inv.failCause
	}
}

// failure is the invocation's deepest failed hop and its cause; ok is
// false if no hop failed (or the failure is not in the trace).
func (inv *invocation) failure() (hop Hop, cause string, ok bool) {
	if !inv.failed {
		return Hop{}, "", false
	}
	if inv.failHop >= 0 && inv.failHop < len(inv.trace) {
		hop = inv.trace[inv.failHop]
	}
	return hop, inv.failCause, true
}

// cause is an error's host-side cause for Hop.Error: its first line, at
// most MaxHopError bytes.
func cause(err error) string {
	s := firstLine(err)
	if len(s) > MaxHopError {
		s = s[:MaxHopError]
	}
	return s
}

// onChain reports whether the function named name is running on the chain.
func (inv *invocation) onChain(name string) bool {
	for _, n := range inv.chain {
		if n == name {
			return true
		}
	}
	return false
}

// hopsSink takes the hops a peer made for one of the invocation's remote
// sends (a HOPS frame: the peer's trace as JSON) into the trace, after
// the send's own hop.
type hopsSink struct{ inv *invocation }

func (h *hopsSink) Write(b []byte) (int, error) {
	var hops Trace
	if err := json.Unmarshal(b, &hops); err != nil {
		return 0, fmt.Errorf("a peer's hops: %w", err)
	}
	inv := h.inv
	for _, hop := range hops {
		if len(hop.Error) > MaxHopError {
			hop.Error = hop.Error[:MaxHopError]
		}
		if hop.From == RemoteFrom {
			// The peer's arrival hop, sent only when the payload failed
			// there (rr_alloc, a trap): its cause goes on the send's hop,
			// which the ACK's status fails next.
			if hop.Error != "" && !inv.failed && inv.sendHop >= 0 {
				inv.failed, inv.failHop, inv.failCause = true, inv.sendHop, hop.Error
				inv.trace[inv.sendHop].Error = hop.Error
			}
			continue
		}
		if len(inv.trace) == cap(inv.trace) {
			break
		}
		inv.trace = append(inv.trace, hop)
		if hop.Error != "" && !inv.failed {
			inv.failed, inv.failHop, inv.failCause = true, len(inv.trace)-1, hop.Error
		}
	}
	return len(b), nil
}

// reportHops sends the hops this node made for a payload from a peer
// (every one but the arrival's, which the peer has) back to that peer, each
// marked with the node that made it. A delivery that made no hop sends
// none: the frame costs the peer a read and a decode.
//
// A payload that failed on arrival (the failure recorded on hop 0: rr_alloc
// out of range, a trap in rr_handle before any send) sends hop 0 too, with
// its Error, for the peer to put the cause on its own send's hop.
func (n *Node) reportHops(inv *invocation, w io.Writer) {
	first := 1
	if inv.failed && inv.failHop == 0 {
		first = 0
	}
	if len(inv.trace) <= first {
		return
	}
	hops := slices.Clone(inv.trace[first:])
	for i := range hops {
		if hops[i].Node == "" {
			hops[i].Node = n.Name()
		}
	}
	s := hops.String()
	for len(s) > wire.MaxHopsPayload && len(hops) > 0 {
		hops = hops[:len(hops)*wire.MaxHopsPayload/len(s)]
		s = hops.String()
	}
	io.WriteString(w, s)
}
