package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/roadrunner-wasm/roadrunner/runtime"
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
//	GET  /healthz              200 "ok", or 503 "draining" during Shutdown
//	GET  /readyz               whether to route invocations here: for now the same as /healthz
//	GET  /metrics              Prometheus text
//
// With node.http_auth.token_file, an invocation needs the header
// Authorization: Bearer TOKEN, one of the file's tokens. Without it the
// answer is 401 with a WWW-Authenticate challenge and a JSON error, before
// any of the body is read; GET /v1/cluster asks the same token;
// /healthz, /readyz and /metrics need none.
//
// An invocation's answer: 200 with the reply written straight from the
// replying guest's memory, followed by the trailers Rr-Trace and Rr-Error;
// 204 with an Rr-Trace header if the chain succeeded without a reply; or,
// if it failed before a reply, a JSON error {"error", "code", "label"} with
// a status chosen by the code and an Rr-Trace header.
func (n *Node) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/functions/{name}", n.serveInvoke)
	mux.HandleFunc("GET /v1/cluster", n.serveCluster)
	mux.HandleFunc("GET /healthz", n.serveHealth)
	mux.HandleFunc("GET /readyz", n.serveHealth)
	mux.Handle("GET /metrics", promhttp.HandlerFor(n.metrics.reg, promhttp.HandlerOpts{}))
	return mux
}

func (n *Node) serveHealth(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	draining := n.draining
	n.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if draining {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "draining\n")
		return
	}
	io.WriteString(w, "ok\n")
}

// httpInvocation is one request's side of an invocation: its body fills the
// function's buffer, and the reply goes to its ResponseWriter.
type httpInvocation struct {
	w       http.ResponseWriter
	body    io.Reader
	replied bool
}

// fill reads the body straight into dst, a view of the function's memory.
func (h *httpInvocation) fill(dst []byte) error {
	if _, err := io.ReadFull(h.body, dst); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) { // the read deadline is the invocation's
			return fmt.Errorf("read request body: invocation deadline passed: %w: %w", runtime.CodeCanceled, err)
		}
		return fmt.Errorf("read request body: %w: %w", runtime.CodeTransport, err)
	}
	return nil
}

// Write is the reply: payload, a view of the replying guest's memory, goes
// to the ResponseWriter as is. It is called once per invocation.
func (h *httpInvocation) Write(payload []byte) (int, error) {
	hd := h.w.Header()
	hd.Set("Content-Type", "application/octet-stream")
	hd.Set("Trailer", HeaderTrace+", "+HeaderError)
	h.w.WriteHeader(http.StatusOK)
	h.replied = true
	return h.w.Write(payload)
}

func (n *Node) serveInvoke(w http.ResponseWriter, r *http.Request) {
	if !n.authorize(w, r) {
		return
	}
	name := r.PathValue("name")
	if r.ContentLength < 0 || (r.ContentLength == 0 && r.Header.Get("Content-Length") == "") {
		writeError(w, http.StatusLengthRequired, runtime.CodeTransport, "Content-Length required: the body is read straight into the function's memory", nil)
		return
	}
	size := uint64(r.ContentLength)
	h := &httpInvocation{w: w, body: r.Body}
	inv, err := n.begin(r.Context(), h)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, runtime.CodeCanceled, err.Error(), nil)
		return
	}
	n.traceHTTP(inv, r.Header)
	// A slow client must not hold an instance past the invocation's
	// deadline, neither sending its body nor taking the reply.
	rc := http.NewResponseController(w)
	d, hasDeadline := inv.ctx.Deadline()
	if hasDeadline {
		rc.SetReadDeadline(d)
		rc.SetWriteDeadline(d)
	}
	err = n.ingress(inv, IngressFrom, name, &httpOrigin, size, h.fill)
	trace := inv.trace.header()
	fillFailed := inv.fillFailed
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
			n.log.Warn("invocation failed after its reply", "function", name, "bytes", size, "error", err)
		}
	case err == nil:
		w.Header().Set(HeaderTrace, trace)
		w.WriteHeader(http.StatusNoContent)
	default:
		code := runtime.CodeOf(err)
		status, msg := httpStatus(code), firstLine(err)
		switch {
		case deadline:
			status, code = http.StatusGatewayTimeout, runtime.CodeCanceled
		case fillFailed:
			status = http.StatusBadRequest
		}
		// The first hop's refusals get messages with the request's details.
		if f := n.fns[name]; errors.Is(err, errUnknownFunction) {
			msg = fmt.Sprintf("unknown function %q", name)
		} else if errors.Is(err, errTooLarge) && f != nil {
			msg = fmt.Sprintf("payload of %d bytes is over function %s's max_payload of %d bytes", size, name, f.maxPayload)
		}
		level := slog.LevelWarn
		if status < 500 {
			level = slog.LevelInfo // the client's mistake, not the node's
		}
		n.log.Log(r.Context(), level, "invocation failed", "function", name, "bytes", size, "status", status, "error", err)
		writeError(w, status, code, msg, &trace)
	}
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

// ErrorBody is the JSON body of a failed invocation.
type ErrorBody struct {
	Error string       `json:"error"`
	Code  runtime.Code `json:"code"`
	Label string       `json:"label"`
}

func writeError(w http.ResponseWriter, status int, code runtime.Code, msg string, trace *string) {
	body, _ := json.Marshal(ErrorBody{Error: msg, Code: code, Label: code.Label()})
	h := w.Header()
	if trace != nil {
		h.Set(HeaderTrace, *trace)
	} else {
		h.Set(HeaderTrace, "[]") // refused before the invocation began
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}
