package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/roadrunner-wasm/roadrunner/node"
	"github.com/roadrunner-wasm/roadrunner/runtime"
)

// earlyIngress holds the HTTP ingress's listener from the moment the
// config is read, so that a node compiling its modules (seconds, minutes
// for a large module on a cold cache) answers its probes: /healthz 200,
// /readyz 503 "starting", and everything else (invocations, /metrics,
// /v1/cluster) 503 with Retry-After and the JSON error body. Once the node
// is made, hand gives the same listener to the node's own server; no
// connection is refused or reset in between.
//
// One goroutine accepts on the real listener; each server takes the
// connections from it through a listener of its own (phase), whose Close
// ends only that server's Accept. The last phase's Close closes the real
// listener.
type earlyIngress struct {
	ln    net.Listener
	conns chan net.Conn
	stop  chan struct{} // closed when the real listener is closed: the accept loop drops what it holds
	// acceptDone is closed when the real listener's Accept failed (it
	// was closed), acceptErr set before.
	acceptDone chan struct{}
	acceptErr  error
	stopOnce   sync.Once

	srv    *http.Server
	early  net.Listener  // the early server's phase
	served chan struct{} // closed when srv.Serve has returned

	// busy tracks the early server's connections that are new (no
	// request read yet) or active: net/http closes such a connection
	// without an answer if it reads its request after Shutdown began, so
	// hand waits for them first.
	mu      sync.Mutex
	busy    map[net.Conn]bool
	settled chan struct{} // closed (and replaced) when busy empties
}

// earlyShutdownTimeout bounds how long the hand-over waits for the
// answers the early server is writing.
const earlyShutdownTimeout = 5 * time.Second

// earlySettleTimeout bounds how long the hand-over waits for the early
// server's new connections to send their requests.
const earlySettleTimeout = time.Second

// startEarlyIngress serves ln with the start-up answers until hand or
// close.
func startEarlyIngress(ln net.Listener, log *slog.Logger) *earlyIngress {
	e := &earlyIngress{
		ln:         ln,
		conns:      make(chan net.Conn),
		stop:       make(chan struct{}),
		acceptDone: make(chan struct{}),
		served:     make(chan struct{}),
	}
	go e.accept()
	e.busy, e.settled = map[net.Conn]bool{}, make(chan struct{})
	e.srv = &http.Server{
		Handler:           http.HandlerFunc(serveStarting),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Second, // idle connections go before the hand-over does
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ConnState:         e.track,
	}
	e.early = e.phase(false)
	go func() {
		defer close(e.served)
		e.srv.Serve(e.early)
	}()
	return e
}

func (e *earlyIngress) accept() {
	for {
		c, err := e.ln.Accept()
		if err != nil {
			e.acceptErr = err
			close(e.acceptDone)
			return
		}
		select {
		case e.conns <- c:
		case <-e.stop:
			c.Close()
			return
		}
	}
}

// hand ends the early server (it finishes the answers it is writing, up
// to earlyShutdownTimeout, and closes its idle connections) and returns
// the listener the node's server is to serve: the same socket.
//
// A connection the early server accepted and has not read a request from
// yet would be closed unanswered by Shutdown (net/http drops a request it
// reads once shutting down): the early server stops accepting, answers
// with Connection: close from then on, and its new and active
// connections are waited for (they are answered and closed) before
// Shutdown closes the rest.
func (e *earlyIngress) hand(ctx context.Context) net.Listener {
	ctx, cancel := context.WithTimeout(ctx, earlyShutdownTimeout)
	defer cancel()
	e.early.Close()
	e.srv.SetKeepAlivesEnabled(false)
	// A connection whose client sends nothing stays new: it does not
	// hold the node back for long.
	wctx, wcancel := context.WithTimeout(ctx, earlySettleTimeout)
	e.waitSettled(wctx)
	wcancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		e.srv.Close()
	}
	<-e.served
	return e.phase(true)
}

// track is the early server's ConnState: it keeps busy.
func (e *earlyIngress) track(c net.Conn, st http.ConnState) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch st {
	case http.StateNew, http.StateActive:
		e.busy[c] = true
	default:
		delete(e.busy, c)
		if len(e.busy) == 0 {
			close(e.settled)
			e.settled = make(chan struct{})
		}
	}
}

// waitSettled waits until the early server has no new or active
// connection, or ctx ends.
func (e *earlyIngress) waitSettled(ctx context.Context) {
	for {
		e.mu.Lock()
		n, settled := len(e.busy), e.settled
		e.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-settled:
		case <-ctx.Done():
			return
		}
	}
}

// close ends the early server and closes the listener: a start that
// failed or was stopped.
func (e *earlyIngress) close() {
	e.srv.Close()
	<-e.served
	e.closeReal()
}

func (e *earlyIngress) closeReal() {
	e.stopOnce.Do(func() {
		close(e.stop)
		e.ln.Close()
	})
}

// Addr is the ingress's address.
func (e *earlyIngress) Addr() net.Addr { return e.ln.Addr() }

// phase is a listener over e's connections: final means that its Close
// closes the real listener too.
func (e *earlyIngress) phase(final bool) net.Listener {
	return &phaseListener{e: e, done: make(chan struct{}), final: final}
}

type phaseListener struct {
	e     *earlyIngress
	done  chan struct{}
	once  sync.Once
	final bool
}

func (l *phaseListener) Accept() (net.Conn, error) {
	select {
	case <-l.done:
		return nil, net.ErrClosed
	default:
	}
	select {
	case c := <-l.e.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-l.e.acceptDone:
		return nil, l.e.acceptErr
	}
}

func (l *phaseListener) Close() error {
	l.once.Do(func() {
		close(l.done)
		if l.final {
			l.e.closeReal()
		}
	})
	return nil
}

func (l *phaseListener) Addr() net.Addr { return l.e.ln.Addr() }

// startingMessage is the error of every call a starting node refuses.
const startingMessage = "node is starting: its functions are being loaded"

// serveStarting answers a request while the node starts.
func serveStarting(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/healthz":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
		return
	case r.Method == http.MethodGet && r.URL.Path == "/readyz":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "starting\n")
		return
	}
	body, _ := json.Marshal(node.ErrorBody{Error: startingMessage, Code: runtime.CodeBusy, Label: runtime.CodeBusy.Label()})
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Retry-After", node.RetryAfter)
	h.Set(node.HeaderTrace, "[]")
	if r.ContentLength != 0 {
		// The body is not read: the connection closes after the answer.
		h.Set("Connection", "close")
	}
	w.WriteHeader(http.StatusServiceUnavailable)
	w.Write(body)
}
