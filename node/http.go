package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/roadrunner-wasm/roadrunner/runtime"
	"github.com/roadrunner-wasm/roadrunner/transport"
)

// HTTP names of the ingress.
const (
	HeaderTrace = "Rr-Trace" // the invocation's Trace, one line of JSON
	HeaderError = "Rr-Error" // trailer: why the chain failed after its reply, or empty
)

// Handler returns the node's HTTP handler:
//
//	POST /v1/functions/{name}  invoke: the body, read straight into the function's memory
//	GET  /v1/cluster           the node's directory (ClusterView), JSON
//	GET  /healthz              liveness: 200 "ok" as long as the process serves, draining included
//	GET  /readyz               readiness: 200 "ok", or 503 "starting" or "draining" (see Ready)
//	GET  /metrics              Prometheus text
//
// With node.http_auth.token_file, an invocation needs the header
// Authorization: Bearer TOKEN, one of the file's tokens. Without it the
// answer is 401 with a WWW-Authenticate challenge and a JSON error, before
// any of the body is read; GET /v1/cluster asks the same token;
// /healthz, /readyz and /metrics need none.
//
// A body with a Content-Length is read straight into the function's
// memory. A body without one (Transfer-Encoding: chunked, or HTTP/2
// without the header) is first read into a buffer of the node, at most the
// function's max_payload (413, and nothing delivered, past it), then
// copied into the function's memory: rr_alloc needs the size first.
//
// An invocation's answer: 200 with the reply written straight from the
// replying guest's memory, followed by the trailers Rr-Trace and Rr-Error;
// 204 with an Rr-Trace header if the chain succeeded without a reply; or,
// if it failed before a reply, a JSON ErrorBody with a status chosen by
// the code and an Rr-Trace header (docs/ABI.md lists every status). A 503
// carries Retry-After.
func (n *Node) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/functions/{name}", n.serveInvoke)
	mux.HandleFunc("GET /v1/cluster", n.serveCluster)
	mux.HandleFunc("GET /healthz", n.serveHealth)
	mux.HandleFunc("GET /readyz", n.serveReady)
	mux.Handle("GET /metrics", promhttp.HandlerFor(n.metrics.reg, promhttp.HandlerOpts{}))
	return mux
}

func (n *Node) serveHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok\n")
}

func (n *Node) serveReady(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if ok, why := n.Ready(); !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, why+"\n")
		return
	}
	io.WriteString(w, "ok\n")
}

// httpInvocation is one request's side of an invocation: its body fills the
// function's buffer, and the reply goes to its ResponseWriter.
type httpInvocation struct {
	w       http.ResponseWriter
	body    *bodyReader
	replied bool
}

// fill reads the body straight into dst, a view of the function's memory.
func (h *httpInvocation) fill(dst []byte) error {
	if _, err := io.ReadFull(h.body, dst); err != nil {
		return h.body.failed("read request body", err)
	}
	h.body.done = true // Content-Length bytes: the whole body
	h.body.rest()
	return nil
}

// bodyReader reads a request body with a progress timeout: before a read,
// the connection's read deadline moves to read_progress_timeout from now
// (never past the invocation's deadline), so that a body must keep
// arriving, not only be whole by the invocation's deadline. A caller that
// stops sending holds its instance for read_progress_timeout, not for the
// invocation's timeout.
type bodyReader struct {
	r        io.Reader
	rc       *http.ResponseController
	progress time.Duration
	deadline time.Time       // the invocation's; zero: none
	kill     context.Context // the node's kill switch: its deadline is not moved once it fired
	set      time.Time       // when the deadline was last moved
	stalled  bool            // a read failed for want of progress
	done     bool            // the body was read whole
}

func (b *bodyReader) Read(p []byte) (int, error) {
	// Moving the deadline is a timer update: done when an eighth of the
	// timeout has gone by, not on every read.
	if now := time.Now(); now.Sub(b.set) > b.progress/8 && b.kill.Err() == nil {
		b.set = now
		d := now.Add(b.progress)
		if !b.deadline.IsZero() && b.deadline.Before(d) {
			d = b.deadline
		}
		b.rc.SetReadDeadline(d)
	}
	n, err := b.r.Read(p)
	switch {
	case err == io.EOF:
		b.done = true
	case err != nil && errors.Is(err, os.ErrDeadlineExceeded) && b.kill.Err() == nil &&
		(b.deadline.IsZero() || time.Now().Before(b.deadline)):
		b.stalled = true
	}
	return n, err
}

// rest puts the invocation's deadline back once the body is read: net/http
// reads the connection in the background while the handler runs (to notice
// a caller that went away), and a progress deadline firing there would
// cancel the invocation.
func (b *bodyReader) rest() {
	if b.kill.Err() == nil {
		b.rc.SetReadDeadline(b.deadline)
	}
}

// failed is the error of a body read that failed with err, with the ABI
// code that says whose fault it was.
func (b *bodyReader) failed(what string, err error) error {
	switch {
	case b.stalled:
		return fmt.Errorf("%s: no byte for %s (node.read_progress_timeout): %w: %w", what, b.progress, runtime.CodeTransport, err)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("%s: invocation deadline passed: %w: %w", what, runtime.CodeCanceled, err)
	}
	return fmt.Errorf("%s: %w: %w", what, runtime.CodeTransport, err)
}

// abortReason is the reason of rr_transfers_aborted_total for a body read
// that failed with err.
func (b *bodyReader) abortReason(err error) string {
	switch {
	case b.stalled:
		return "stalled"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, runtime.CodeCanceled):
		return "deadline"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "truncated"
	}
	return "io"
}

// sourceOf is the admission source of an HTTP request: the client's
// address without its port.
func sourceOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Write is the reply: payload, a view of the replying guest's memory, goes
// to the ResponseWriter as is. It is called once per invocation.
func (h *httpInvocation) Write(payload []byte) (int, error) {
	hd := h.w.Header()
	hd.Set("Content-Type", "application/octet-stream")
	hd.Set("Trailer", HeaderTrace+", "+HeaderError)
	h.w.WriteHeader(http.StatusOK)
	h.replied = true
	// A reply begun before the deadline gets read_progress_timeout to go
	// out whole, if the deadline is nearer: cut at the deadline, the
	// caller would read a 200 with half a body.
	if b := h.body; !b.deadline.IsZero() && b.kill.Err() == nil {
		if late := time.Now().Add(b.progress); late.After(b.deadline) {
			b.rc.SetWriteDeadline(late)
		}
	}
	return h.w.Write(payload)
}

// RetryAfter is the Retry-After of every 503 the ingress answers, in
// seconds: the node is starting, draining or busy, and another replica (or
// this one, a moment later) may take the call.
const RetryAfter = "1"

// errKilled is the message of an invocation canceled because the node's
// drain_timeout ran out.
const errKilled = "node shutting down: drain_timeout ran out before the invocation finished"

func (n *Node) serveInvoke(w http.ResponseWriter, r *http.Request) {
	if !n.authorize(w, r) {
		return
	}
	name := r.PathValue("name")
	size := uint64(r.ContentLength)
	rc := http.NewResponseController(w)
	rb := &bodyReader{r: r.Body, rc: rc, progress: n.cfg.Node.ReadProgressTimeout, kill: n.kill}
	h := &httpInvocation{w: w, body: rb}
	inv, err := n.begin(r.Context(), h)
	if err != nil {
		// The node is draining: the caller, maybe still sending its
		// body, gets the answer before the connection closes.
		n.answerAndLinger(w, rc, http.StatusServiceUnavailable, ErrorBody{Error: err.Error(), Code: runtime.CodeCanceled}, nil)
		return
	}
	inv.source = sourceOf(r)
	n.traceHTTP(inv, r.Header)
	// A slow client must not hold an instance past the invocation's
	// deadline, neither sending its body nor taking the reply; a drain
	// that runs out of time cuts the body short too, so that the caller
	// gets its 503 at once.
	d, hasDeadline := inv.ctx.Deadline()
	if hasDeadline {
		rb.deadline = d
		rc.SetReadDeadline(d)
		rc.SetWriteDeadline(d)
	}
	stopKill := context.AfterFunc(n.kill, func() { rc.SetReadDeadline(time.Unix(1, 0)) })
	fill := h.fill
	var chunked, readFailed bool
	var admitted *function
	if r.ContentLength < 0 {
		chunked = true
		// A chunked body is buffered by the node before a guest can be
		// asked for memory: it is read once the function has admitted
		// the call, so that buffered bodies are bounded by the pools and
		// queued calls hold none.
		admitted, err = n.admit(inv, name)
		if err == nil {
			size, fill, err = n.readUnsized(rb, admitted)
			readFailed = err != nil
		}
	}
	if err == nil {
		err = n.ingress(inv, IngressFrom, name, &httpOrigin, size, fill)
	}
	if admitted != nil {
		inv.admitted = nil
		admitted.adm.release(inv.source)
		n.release(admitted)
	}
	stopKill()
	trace := inv.trace.header()
	fillFailed := inv.fillFailed || readFailed
	stalled := rb.stalled
	if fillFailed {
		n.metrics.aborted.WithLabelValues(transport.PathHTTP.String(), rb.abortReason(err)).Inc()
	}
	// A body left unread (refused before it was read, or cut short) gets
	// its answer before the connection closes: see answerAndLinger.
	unread := !rb.done && r.ContentLength != 0
	failHop, cause, hopFailed := inv.failure()
	// The connection's deadline may fire before the context's timer does:
	// ask the clock.
	deadline := errors.Is(inv.ctx.Err(), context.DeadlineExceeded) || (hasDeadline && !time.Now().Before(d))
	n.end(inv)
	rc.SetWriteDeadline(time.Time{}) // the trailers or the error still go out

	switch {
	case h.replied:
		w.Header().Set(HeaderTrace, trace)
		w.Header().Set(HeaderError, firstLine(err))
		if err != nil {
			n.refusalLog.log(slog.LevelWarn, "invocation/after-reply", "invocation failed after its reply", "function", name, "bytes", size, "error", err)
		}
	case err == nil:
		w.Header().Set(HeaderTrace, trace)
		w.WriteHeader(http.StatusNoContent)
	default:
		code := runtime.CodeOf(err)
		body := ErrorBody{Error: firstLine(err), Code: code, Function: name, Node: n.Name(), From: IngressFrom, Path: transport.PathHTTP.String()}
		if hopFailed {
			body.Cause = cause
			if failHop.To != "" {
				body.Function, body.From, body.Path = failHop.To, failHop.From, failHop.Path
				if failHop.Node != "" {
					body.Node = failHop.Node
				}
			}
		}
		status := httpStatus(code)
		killed := n.kill.Err() != nil
		switch {
		case killed:
			status, body.Code, body.Error = http.StatusServiceUnavailable, runtime.CodeCanceled, errKilled
		case errors.Is(err, errQueueDeadline):
			// Refused while it queued: busy, not a timeout of the call.
			status = http.StatusServiceUnavailable
		case stalled:
			status = http.StatusRequestTimeout
		case deadline:
			status, body.Code = http.StatusGatewayTimeout, runtime.CodeCanceled
		case fillFailed:
			status = http.StatusBadRequest
		}
		// The first hop's refusals get messages with the request's
		// details (a nested send's come back as the sender's failure).
		// Error says it all for those: they get no cause.
		refused := true
		// A reload may have replaced or removed the function since.
		limit := "max_payload"
		if f := n.function(name); f != nil {
			limit = fmt.Sprintf("max_payload of %d bytes", f.cfg.MaxPayload)
		}
		switch {
		case errors.Is(err, errUnknownFunction):
			body.Error = fmt.Sprintf("unknown function %q", name)
		case errors.Is(err, errTooLarge) && chunked:
			body.Error = fmt.Sprintf("chunked body over function %s's %s", name, limit)
		case errors.Is(err, errTooLarge):
			body.Error = fmt.Sprintf("payload of %d bytes is over function %s's %s", size, name, limit)
		default:
			refused = false
		}
		switch {
		case refused:
			body.Cause = ""
		case body.Cause == "":
			body.Cause = firstLine(err)
		}
		level := slog.LevelWarn
		if status < 500 {
			level = slog.LevelInfo // the client's mistake, not the node's
		}
		n.refusalLog.log(level, "invocation/"+strconv.Itoa(status), "invocation failed", "function", name, "bytes", size, "status", status, "failed_function", body.Function, "failed_node", body.Node, "error", err, "cause", body.Cause)
		if killed || deadline || unread {
			// The body may be cut short, its reader failed: net/http
			// would close the connection at once and the caller, still
			// sending, would get a reset instead of this answer.
			n.answerAndLinger(w, rc, status, body, &trace)
			return
		}
		writeErrorBody(w, status, body, &trace)
	}
}

// lingerTimeout bounds how long answerAndLinger reads away what a caller
// still sends after its answer.
const lingerTimeout = 2 * time.Second

// answerAndLinger answers with the error and closes the connection the
// way that lets a caller still sending its body read the answer: the
// answer, then a half-close (FIN), then what the caller still sends read
// and dropped until it stops (its EOF), lingerTimeout passes or the node's
// Shutdown is done waiting, then the close. Closing with unread bytes
// would send a reset, and a reset makes the caller's kernel drop the
// answer it has not read yet.
func (n *Node) answerAndLinger(w http.ResponseWriter, rc *http.ResponseController, status int, e ErrorBody, trace *string) {
	// Counted while net/http still tracks the connection (once hijacked,
	// the server's Shutdown no longer waits for it), and only until
	// Shutdown waits for the count: an answer written after that (a
	// handler that outlived closeGrace) is not lingered over.
	n.mu.Lock()
	linger := !n.lingerWaited
	if linger {
		n.lingering.Add(1)
	}
	n.mu.Unlock()
	if !linger {
		writeErrorBody(w, status, e, trace)
		return
	}
	defer n.lingering.Done()
	w.Header().Set("Connection", "close")
	writeErrorBody(w, status, e, trace)
	if err := rc.Flush(); err != nil {
		return
	}
	conn, _, err := rc.Hijack()
	if err != nil {
		return // net/http closes it as usual
	}
	defer conn.Close()
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	conn.SetReadDeadline(time.Now().Add(lingerTimeout))
	io.Copy(io.Discard, conn)
}

// admit takes a reference on the function named name and one of its
// admission slots for the invocation's first delivery (see
// invocation.admitted), waiting in its queue as a delivery would; the
// caller releases both. It returns nil and no error for an unknown
// function, whose delivery then fails as usual.
func (n *Node) admit(inv *invocation, name string) (*function, error) {
	f := n.acquire(name)
	if f == nil {
		return nil, nil
	}
	if err := f.adm.acquire(inv.ctx, inv.source, false, &f.metrics, time.Now()); err != nil {
		f.metrics.invocations[codeIndex(err)].Inc()
		n.release(f)
		return nil, err
	}
	inv.admitted = f
	return f, nil
}

// readUnsized reads a body without a Content-Length into a buffer of the
// node, at most the max_payload of f, and returns its size and a fill that
// copies it into the function's memory. A body over max_payload is not
// read further: the size returned is max_payload + 1, which the delivery
// refuses (CodeTooLarge) before rr_alloc. For an unknown function (f nil)
// nothing is read.
func (n *Node) readUnsized(body *bodyReader, f *function) (uint64, func([]byte) error, error) {
	if f == nil {
		return 0, func([]byte) error { return nil }, nil
	}
	limit := f.cfg.MaxPayload + 1
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(body, int64(min(limit, math.MaxInt64)))); err != nil {
		return 0, nil, body.failed("read chunked request body", err)
	}
	body.rest()
	b := buf.Bytes()
	return uint64(len(b)), func(dst []byte) error { copy(dst, b); return nil }, nil
}

// firstLine is err's message up to its first newline: a trap's message goes
// on with a wasm stack trace, which the node's log keeps.
func firstLine(err error) string {
	if err == nil {
		return ""
	}
	line, _, _ := strings.Cut(err.Error(), "\n")
	return line
}

// httpStatus is the status of an invocation that failed with code before
// any reply.
func httpStatus(code runtime.Code) int {
	switch code {
	case runtime.CodeUnknownFunction:
		return http.StatusNotFound
	case runtime.CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case runtime.CodeBusy, runtime.CodeCanceled:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// ErrorBody is the JSON body of every answer of the ingress that is not a
// 2xx (docs/ABI.md lists them): what failed, its ABI code and label, the
// hop that failed (the deepest: a function several sends down, on this
// node or a peer), and the host-side cause.
type ErrorBody struct {
	// Error says what failed, for a person.
	Error string `json:"error"`
	// Code and Label are the failure's ABI code (runtime.Code) and its
	// name: "receiver_failed", "too_large", …
	Code  runtime.Code `json:"code"`
	Label string       `json:"label"`
	// Function, Node, From and Path name the hop that failed: the
	// function it delivered to, the node that made it (this node's name,
	// or a peer's), the sender ("http" for the ingress, "remote" for a
	// payload from a peer, else a function) and the path (http, memory,
	// unix, tcp). Empty for a request refused before any invocation
	// (401, a draining node's 503).
	Function string `json:"function,omitempty"`
	Node     string `json:"node,omitempty"`
	From     string `json:"from,omitempty"`
	Path     string `json:"path,omitempty"`
	// Cause is the host-side error of that hop, one line of at most
	// MaxHopError bytes: "send to b on peer n2: transport: dial tcp
	// 10.0.0.2:7070: connect: connection refused", "… rr_alloc returned
	// … outside guest memory". Empty where Error says it all.
	Cause string `json:"cause,omitempty"`
}

// writeError answers a request refused before its invocation went
// anywhere.
func writeError(w http.ResponseWriter, status int, code runtime.Code, msg string, trace *string) {
	writeErrorBody(w, status, ErrorBody{Error: msg, Code: code}, trace)
}

func writeErrorBody(w http.ResponseWriter, status int, e ErrorBody, trace *string) {
	e.Label = e.Code.Label()
	body, _ := json.Marshal(e)
	h := w.Header()
	if trace != nil {
		h.Set(HeaderTrace, *trace)
	} else {
		h.Set(HeaderTrace, "[]") // refused before the invocation began
	}
	if status == http.StatusServiceUnavailable {
		h.Set("Retry-After", RetryAfter)
	}
	body = append(body, '\n')
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}
