package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/roadrunner-wasm/roadrunner/runtime"
	rrwazero "github.com/roadrunner-wasm/roadrunner/runtime/wazero"
	"github.com/roadrunner-wasm/roadrunner/transport"
)

// Options configures a Node. Nil means defaults.
type Options struct {
	// Engine runs the functions. Nil means a wazero engine with the
	// configuration's compilation cache, which the node closes on Shutdown;
	// an engine given here is the caller's to close, after Shutdown, unless
	// CloseEngine is set.
	Engine runtime.Engine
	// CloseEngine hands Engine to the node: it closes it as one it made,
	// on Shutdown or when New fails. It also lets New return at once when
	// ctx ends in the middle of a compilation (see New).
	CloseEngine bool
	// Logger receives the node's logs and its guests' output. Nil means
	// none.
	Logger *slog.Logger
	// Accel is the accelerators the unix and tcp paths use: the zero
	// value is transport.AccelNone; transport.AccelAuto turns the sockmap
	// on where this process may use it (see accel). An accelerator asked
	// for by name that the system refuses falls back to plain syscalls,
	// with a warning and a count in rr_fallbacks_total.
	Accel transport.Accels
	// StrictAccel makes New fail instead of falling back.
	StrictAccel bool
	// Version is the version rr_build_info reports; empty means
	// Roadrunner's module version from the binary's build info.
	Version string
	// Registerer is where the node registers its metrics (docs/METRICS.md),
	// for an embedding program to expose them on its own registry. Nil
	// means a registry of the node's own, with the Go runtime's and the
	// process's collectors, which a registry of the caller's does not get
	// from the node (registering those twice fails). The node registers
	// once its functions are loaded, and unregisters when it closes. Two
	// nodes on one registry clash: wrap it
	// (prometheus.WrapRegistererWith a node label) for each.
	Registerer prometheus.Registerer
	// Gatherer is what the node's /metrics serves. Nil means the registry
	// the node registers on: its own, or Registerer if that is a
	// prometheus.Gatherer (a *prometheus.Registry is; the embedding
	// program's metrics are then served too). A Registerer that is not a
	// Gatherer needs one; a Gatherer without a Registerer is refused.
	Gatherer prometheus.Gatherer
	// TracerProvider, if not nil, makes the node's spans (one per hop and
	// per transfer) with this provider, whose sampler and exporters apply,
	// instead of one made from node.tracing; the node neither flushes nor
	// shuts it down. Nil means node.tracing's (none if its otlp_endpoint
	// is empty).
	TracerProvider trace.TracerProvider
}

// Node hosts functions: it routes their sends, takes invocations (over HTTP
// or through Invoke) and exports metrics. It implements runtime.Host for its
// functions' guests and transport.Sink for the paths that deliver to them.
// A Node is safe for concurrent use.
type Node struct {
	cfg        Config
	log        *slog.Logger
	eng        runtime.Engine
	ownsEngine bool
	// table is the functions hosted now: replaced whole by Reload.
	table atomic.Pointer[funcTable]
	// retiring counts the functions a reload took out that are not closed
	// yet; close waits for them.
	retiring sync.WaitGroup
	reload   reloadState
	metrics  *metrics
	accels   accels
	// fallbackLog says which fallbacks were logged already, copiedLog
	// whether zero copy going off was.
	fallbackLog fallbackLog
	copiedLog   sync.Once
	invs        sync.Pool // *invocation
	// refusalLog logs refused connections and requests, rate-limited.
	refusalLog *rateLog
	httpAuth   httpAuth // node.http_auth's tokens; read-only after New

	errTooDeep error
	routeAny   bool // node.route: any

	// frameLimit is the largest payload the transport servers take in a
	// frame: the largest max_payload of the functions New loaded.
	frameLimit uint64

	kill       context.Context // canceled when a drain runs out of time
	killCancel context.CancelFunc

	// abandoned is the load New left behind when its ctx ended; close
	// waits for it, in the background, before it closes the engine.
	abandoned <-chan loadResult

	mu       sync.Mutex
	draining bool
	inflight int
	drained  chan struct{} // closed when draining and inflight reaches 0
	servers  []*http.Server
	shutdown bool
	unready  bool // StopReady was called
	// servingUnix and servingTCP: ServeTransport runs for the path
	// (readiness waits for the paths node.listen opens).
	servingUnix, servingTCP bool
	// lingering counts the connections an answer hijacked to close them
	// gently (answerAndLinger); Shutdown waits for them.
	lingering    sync.WaitGroup
	lingerWaited bool // Shutdown waits for lingering: no more Adds (under mu)

	sec security // the keys, certificates and credentials connections must prove

	tr *tracing // OpenTelemetry; nil when tracing is off

	cl               *cluster            // the directory: peers and what they host
	transportServers []*transport.Server // unix, tcp
}

var (
	_ runtime.Host         = (*Node)(nil)
	_ transport.SharedSink = (*Node)(nil)
)

// New loads every function of cfg and returns a node ready to serve. It
// fills in cfg's defaults on a copy; cfg itself is not modified.
//
// When ctx ends, New stops and returns an error that wraps context.Cause(ctx),
// having undone what it did (accelerators, sockmap pins, functions loaded).
// No engine stops a compilation midway, so if the node owns its engine (the
// default one, or Options.CloseEngine), New returns at once and abandons the
// load under way: the function it makes is closed when it is done, then the
// engine. With an engine the caller keeps, New waits for that load, since
// the caller may close the engine as soon as New returns.
func New(ctx context.Context, cfg *Config, opts *Options) (*Node, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	c := *cfg
	c.Functions = slices.Clone(cfg.Functions)
	m, err := newMetrics(&o)
	if err == nil {
		err = c.check()
	}
	if err != nil {
		if o.CloseEngine && o.Engine != nil {
			err = errors.Join(err, o.Engine.Close(context.WithoutCancel(ctx)))
		}
		return nil, err
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for _, w := range c.Insecure() {
		log.Warn(w)
	}
	n := &Node{
		cfg:        c,
		log:        log,
		eng:        o.Engine,
		ownsEngine: o.Engine != nil && o.CloseEngine,
		metrics:    m,
		refusalLog: newRateLog(log),
		errTooDeep: fmt.Errorf("send chain longer than max_depth %d: %w", c.Node.MaxDepth, runtime.CodeBusy),
		routeAny:   c.Node.Route == RouteAny,
		drained:    make(chan struct{}),
	}
	n.invs.New = func() any { return newInvocation(n, c.Node.MaxDepth) }
	n.kill, n.killCancel = context.WithCancel(context.Background())
	n.reload.stop, n.reload.cancel = context.WithCancel(context.Background())
	// fail undoes what New did: close releases the accelerators, the peers,
	// the functions loaded so far and an engine the node owns.
	fail := func(err error) (*Node, error) {
		return nil, errors.Join(err, n.close(context.WithoutCancel(ctx)))
	}
	if ctx.Err() != nil {
		return fail(context.Cause(ctx))
	}
	if err := n.setupTracing(ctx, o.TracerProvider); err != nil {
		return fail(err)
	}
	if err := n.loadHTTPAuth(); err != nil {
		return fail(err)
	}
	if err := n.accel(o.Accel, o.StrictAccel); err != nil {
		return fail(err)
	}
	if err := n.setupSecurity(); err != nil {
		return fail(err)
	}
	if err := n.setupRemote(); err != nil {
		return fail(err)
	}

	if n.eng == nil {
		dir, err := CacheDir(c.Node.CacheDir, rrwazero.DefaultCacheDir)
		if err != nil {
			return fail(err)
		}
		eng, err := rrwazero.New(ctx, &rrwazero.Options{CacheDir: dir})
		if err != nil {
			return fail(fmt.Errorf("start engine: %w", err))
		}
		n.eng, n.ownsEngine = eng, true
	}
	// The table fills before the node is shared; close closes what it
	// holds if New fails.
	t := &funcTable{fns: make(map[string]*function, len(c.Functions))}
	n.table.Store(t)
	for _, fc := range c.Functions {
		m, err := n.readModule(ctx, fc, c.Node.Registry)
		if err != nil {
			return fail(err)
		}
		f, err := n.compile(ctx, fc, m, n.ownsEngine)
		if err != nil {
			return fail(err)
		}
		f.metrics = n.metrics.forFunction(f.name, f.fn, &f.adm.queued)
		t.add(f)
		if ctx.Err() != nil {
			return fail(fmt.Errorf("load functions: %w", context.Cause(ctx)))
		}
	}
	if err := n.metrics.register(o.Version, n.eng, n.invocationsInFlight); err != nil {
		return fail(err)
	}
	n.cl.start()
	return n, nil
}

// CacheDir resolves node.cache_dir for an engine: "" for CacheOff (no disk
// cache), the engine's default directory (defaultDir) for "", else the
// configured directory.
func CacheDir(configured string, defaultDir func() (string, error)) (string, error) {
	switch configured {
	case CacheOff:
		return "", nil
	case "":
		dir, err := defaultDir()
		if err != nil {
			return "", fmt.Errorf("compilation cache: %w", err)
		}
		return dir, nil
	default:
		return configured, nil
	}
}

// loadResult is what an engine's Load returned.
type loadResult struct {
	fn  runtime.Function
	err error
}

// Name is the node's name (node.name, default the hostname).
func (n *Node) Name() string { return n.cfg.Node.Name }

// Config is the node's configuration, defaults filled in.
func (n *Node) Config() Config {
	n.mu.Lock()
	c := n.cfg
	n.mu.Unlock()
	c.Functions = slices.Clone(c.Functions)
	c.Peers = slices.Clone(c.Peers)
	ua := &c.Node.Listen.UnixAllow
	ua.UIDs, ua.GIDs = slices.Clone(ua.UIDs), slices.Clone(ua.GIDs)
	return c
}

// Errors the hot path returns: built once, so that refusing a send does not
// allocate.
var (
	errUnknownFunction = fmt.Errorf("no such function: %w", runtime.CodeUnknownFunction)
	errTooLarge        = fmt.Errorf("payload over the function's max_payload: %w", runtime.CodeTooLarge)
	errNoInvocation    = runtime.CodeNoInvocation
	errAlreadyReplied  = runtime.CodeAlreadyReplied
	errDraining        = fmt.Errorf("node is shutting down: %w", runtime.CodeCanceled)
)

// Invoke starts an invocation: it delivers a payload of size bytes, written
// into the receiver's memory by fill, to the function named name, and
// returns when that function's rr_handle has returned, nested sends
// included. It is the HTTP ingress without HTTP. fill gets a view of the
// receiver's memory, not a copy, valid only inside fill; if fill fails,
// rr_handle is not called.
//
// The first reply of the chain goes to replyTo in one Write call, with a
// view of the replying guest's memory valid only during that call; nil
// replyTo means the invocation takes no reply (reply returns
// runtime.CodeNoInvocation). The invocation times out after the configured
// invocation_timeout.
//
// The trace lists every hop, the ingress first; it is returned also when err
// is not nil (empty if the invocation never started).
func (n *Node) Invoke(ctx context.Context, name string, size uint64, fill func(dst []byte) error, replyTo io.Writer) (Trace, error) {
	inv, err := n.begin(ctx, replyTo)
	if err != nil {
		return Trace{}, err
	}
	err = n.ingress(inv, IngressFrom, name, &httpOrigin, size, fill)
	trace := slices.Clone(inv.trace)
	n.end(inv)
	return trace, err
}

// begin starts an invocation, unless the node is draining.
func (n *Node) begin(ctx context.Context, replyTo io.Writer) (*invocation, error) {
	n.mu.Lock()
	if n.draining {
		n.mu.Unlock()
		return nil, errDraining
	}
	n.inflight++
	n.mu.Unlock()

	inv := n.invs.Get().(*invocation)
	tctx, cancel := context.WithTimeout(ctx, n.cfg.Node.InvocationTimeout)
	inv.cancel = cancel
	inv.stop = context.AfterFunc(n.kill, cancel)
	inv.ctx = context.WithValue(tctx, invocationKey{}, inv)
	inv.noWait = runtime.WithoutWaiting(inv.ctx)
	inv.reply = replyTo
	if n.tr != nil {
		inv.parent = trace.SpanContextFromContext(ctx)
	}
	return inv, nil
}

// end finishes an invocation begun by begin.
func (n *Node) end(inv *invocation) {
	inv.stop()
	inv.cancel()
	inv.reset()
	n.invs.Put(inv)

	n.mu.Lock()
	n.inflight--
	if n.draining && n.inflight == 0 {
		close(n.drained)
	}
	n.mu.Unlock()
}

// httpOrigin is the origin of an HTTP ingress (and of Invoke): never
// written.
var httpOrigin = transport.Origin{Path: transport.PathHTTP, Mechanism: transport.MechanismRead}

// ingress delivers the invocation's first payload and records its hop.
// origin's Mechanism is read once the payload has landed.
func (n *Node) ingress(inv *invocation, from, name string, origin *transport.Origin, size uint64, fill func(dst []byte) error) error {
	inv.fill = fill
	inv.fillStart = time.Now()
	hop := inv.startHop(from, name, origin.Path, size)
	err := n.deliver(inv, name, size, inv.timedFill)
	total := time.Since(inv.fillStart)
	code := codeIndex(err)
	inv.endHop(hop, inv.landed, total, code)
	inv.fail(hop, err)
	inv.endSpan(origin.Mechanism, inv.landed, code, err)
	n.metrics.transfer(origin.Path, origin.Mechanism, size, inv.landed.Seconds(), inv.landed > 0, code)
	return err
}

// Send implements runtime.Host: a guest's send. A function of this node is
// reached on the memory path, one copy from payload (a view of the sender's
// memory) into the receiver's; a function of a peer node on the peer's
// path (unix or tcp), and the send returns the peer's ACK. Steady-state
// sends on the memory path do not allocate.
func (n *Node) Send(ctx context.Context, from, to string, payload []byte) error {
	inv := invocationOf(ctx)
	if inv == nil {
		return errNoInvocation
	}
	if f := n.function(to); f == nil || n.routeAny {
		t := n.cl.table.Load()
		if m := t.pick(to, nil); m != nil && (f == nil || n.remoteLessLoaded(m, f)) {
			return n.sendRemote(inv, t, m, from, to, payload)
		}
	}
	size := uint64(len(payload))
	start := time.Now()
	hop := inv.startHop(from, to, transport.PathMemory, size)
	landed, err := inv.mem.Send(inv.ctx, to, payload)
	total := time.Since(start)
	code := codeIndex(err)
	inv.endHop(hop, landed, total, code)
	inv.fail(hop, err)
	inv.endSpan(transport.MechanismCopy, landed, code, err)
	n.metrics.transfer(transport.PathMemory, transport.MechanismCopy, size, landed.Seconds(), landed > 0, code)
	return err
}

// Reply implements runtime.Host: a guest's reply goes to the current
// invocation's reply writer, once.
func (n *Node) Reply(ctx context.Context, from string, payload []byte) error {
	inv := invocationOf(ctx)
	if inv == nil || inv.reply == nil {
		return errNoInvocation
	}
	if inv.replied {
		return errAlreadyReplied
	}
	inv.replied = true
	if _, err := inv.reply.Write(payload); err != nil {
		return fmt.Errorf("reply: %w: %w", runtime.CodeTransport, err)
	}
	return nil
}

// Deliver implements transport.Sink for the node's transport servers: a
// payload from a peer node (from.Path unix or tcp) starts an invocation of
// its own, whose reply goes back to the peer (from.Reply) if the peer's
// invocation takes one. Any other origin is an ingress, as with Invoke
// without a reply.
//
// It refuses, before the receiver allocates anything: an unknown name
// (runtime.CodeUnknownFunction), a payload over the function's max_payload
// (runtime.CodeTooLarge), a chain already max_depth long
// (runtime.CodeBusy). A function already on the chain is delivered to only
// if one of its instances is idle, and fails with runtime.CodeBusy
// otherwise: waiting for an instance its own chain holds would deadlock.
func (n *Node) Deliver(ctx context.Context, from *transport.Origin, to string, size uint64, fill func(dst []byte) error) error {
	if from.Path != transport.PathUnix && from.Path != transport.PathTCP {
		_, err := n.Invoke(ctx, to, size, fill, nil)
		return err
	}
	inv, err := n.begin(ctx, from.Reply)
	if err != nil {
		return err
	}
	inv.base = int(from.Depth)
	inv.source = from.Source
	n.traceFrom(inv, from)
	err = n.ingress(inv, RemoteFrom, to, from, size, fill)
	if from.Hops != nil {
		n.reportHops(inv, from.Hops)
	}
	n.end(inv)
	return err
}

func (n *Node) deliver(inv *invocation, to string, size uint64, fill func(dst []byte) error) error {
	f := n.acquire(to)
	if f == nil {
		return errUnknownFunction
	}
	defer n.release(f)
	var err error
	switch {
	case size > f.cfg.MaxPayload:
		err = errTooLarge
	case inv.depth() >= n.cfg.Node.MaxDepth:
		err = n.errTooDeep
	default:
		// A function already on the chain is delivered to only if an
		// instance is free: waiting for one its own chain holds would
		// deadlock.
		onChain := inv.onChain(f.name)
		f.metrics.inFlight.Add(1)
		start := time.Now()
		admitted := inv.admitted == f // by the caller: see invocation.admitted
		inv.admitted = nil
		if !admitted {
			err = f.adm.acquire(inv.ctx, inv.source, onChain, &f.metrics, start)
		}
		if err == nil {
			inv.chain = append(inv.chain, f.name)
			if size == 0 {
				// The pool skips rr_alloc and fill for an empty payload;
				// fill still runs once, as transport.Sink promises.
				err = fill(nil)
			}
			if err == nil {
				ctx := inv.ctx
				if onChain {
					ctx = inv.noWait
				}
				err = f.fn.Deliver(ctx, uint32(size), fill)
			}
			inv.chain = inv.chain[:len(inv.chain)-1]
			if !admitted {
				f.adm.release(inv.source)
			}
			f.metrics.duration.Observe(time.Since(start).Seconds())
		}
		f.metrics.inFlight.Add(-1)
	}
	f.metrics.invocations[codeIndex(err)].Inc()
	return err
}

// Serve serves the HTTP ingress, /healthz, /readyz and /metrics on ln
// until Shutdown, and then returns nil.
func (n *Node) Serve(ln net.Listener) error {
	srv := &http.Server{
		Handler:           n.Handler(),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// net/http's own complaints (a TLS handshake that failed, a
		// retried accept) come one per connection: rate-limited.
		ErrorLog: log.New(rateWriter{n.refusalLog}, "", 0),
	}
	n.mu.Lock()
	if n.draining {
		n.mu.Unlock()
		ln.Close()
		return nil
	}
	n.servers = append(n.servers, srv)
	n.mu.Unlock()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve http: %w", err)
	}
	return nil
}

// Readiness: a node is ready to be routed invocations (GET /readyz answers
// 200) once New has returned (its functions are loaded), every peer path
// of node.listen (unix, tcp) is being served by ServeTransport, and
// neither StopReady nor Shutdown was called. The HTTP ingress needs no
// check: /readyz answering proves it is served. Liveness (GET /healthz) is
// 200 as long as the process serves HTTP, draining included: a draining
// node must not be restarted.

// Ready reports whether the node is ready (see Readiness above) and, if
// not, why: "starting" or "draining".
func (n *Node) Ready() (ready bool, why string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case n.unready || n.draining:
		return false, "draining"
	case n.cfg.Node.Listen.Unix != "" && !n.servingUnix,
		n.cfg.Node.Listen.TCP != "" && !n.servingTCP:
		return false, "starting"
	}
	return true, ""
}

// StopReady turns readiness off for good: /readyz answers 503 "draining"
// from now on, while everything else (invocations over HTTP and from
// peers) is served as before. It is the first step of a graceful
// termination: rrnode start calls it on SIGTERM, waits node.drain_delay
// for the endpoints that route to this node (a Kubernetes Service, a load
// balancer) to drop it, then calls Shutdown.
func (n *Node) StopReady() {
	n.mu.Lock()
	n.unready = true
	n.mu.Unlock()
}

// Shutdown drains the node: it stops taking invocations (Invoke fails with
// runtime.CodeCanceled, HTTP listeners close, /readyz says draining), waits
// until the invocations in flight have finished, then closes the functions
// and, if the node made it, the engine. If ctx ends first, the invocations
// still running are canceled (they fail, none silently): an HTTP caller
// still waiting gets 503 with Retry-After and the JSON error, its
// connection closed only after that answer (bounded by closeGrace), and
// Shutdown returns an error that says how many were canceled. Calls after
// the first return nil.
func (n *Node) Shutdown(ctx context.Context) error {
	n.mu.Lock()
	if n.shutdown {
		n.mu.Unlock()
		return nil
	}
	n.shutdown, n.draining = true, true
	if n.inflight == 0 {
		close(n.drained)
	}
	servers := n.servers
	n.mu.Unlock()
	n.reload.cancel() // a reload under way stops, changing nothing
	n.log.Info("node draining")

	// The servers stop accepting at once and close their idle
	// connections; they are left to finish until the invocations have
	// ended or were canceled, and then some (late).
	late, closeLate := context.WithCancel(context.WithoutCancel(ctx))
	defer closeLate()
	ended := make(chan error, len(servers)+len(n.transportServers))
	// A connection still open closeGrace after the invocations ended (or
	// were canceled) carries none: a client's fresh connection with no
	// request yet (net/http waits 5 s for those), a slow /metrics scrape,
	// a peer stalled in a frame's header. Closing it is the plan, not a
	// failure of the shutdown: it is logged, not returned, unless the
	// caller's ctx ended, which the drain's error reports already.
	lateErr := func(what string, err error, level slog.Level) error {
		if err == nil || ctx.Err() != nil {
			return err
		}
		n.log.Log(context.Background(), level, "closed connections still open after the drain", "server", what, "grace", closeGrace, "err", err)
		return nil
	}
	for _, srv := range servers {
		go func() {
			if err := srv.Shutdown(late); err != nil {
				srv.Close()
				ended <- lateErr("http", fmt.Errorf("http shutdown: %w", err), slog.LevelInfo)
				return
			}
			ended <- nil
		}()
	}
	// Frames already being read are answered; new ones are not taken.
	for _, srv := range n.transportServers {
		go func() { ended <- lateErr(srv.Path().String(), srv.Close(late), slog.LevelWarn) }()
	}
	var errs []error
	select {
	case <-n.drained:
	case <-ctx.Done():
		n.mu.Lock()
		left := n.inflight
		n.mu.Unlock()
		// Cancel first, close after: the canceled invocations answer
		// their callers (503) before any connection is closed.
		n.killCancel()
		errs = append(errs, fmt.Errorf("drain: %d invocations canceled: %w", left, ctx.Err()))
		t := time.NewTimer(closeGrace)
		select {
		case <-n.drained:
		case <-t.C:
		}
		t.Stop()
	}
	// The last answers go out; connections still open after closeGrace
	// are closed under them.
	t := time.AfterFunc(closeGrace, closeLate)
	for range cap(ended) {
		if err := <-ended; err != nil {
			errs = append(errs, err)
		}
	}
	t.Stop()
	lingered := make(chan struct{})
	n.mu.Lock()
	n.lingerWaited = true // no Add after this: see answerAndLinger
	n.mu.Unlock()
	go func() { n.lingering.Wait(); close(lingered) }()
	<-lingered // each bounded by lingerTimeout
	// Deliveries still running now were canceled above; interruptible
	// guests stop at once. An uninterruptible one gets closeGrace, then its
	// function is released under it.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeGrace)
	errs = append(errs, n.close(cctx))
	cancel()
	n.log.Info("node stopped")
	return errors.Join(errs...)
}

// closeGrace bounds how long Shutdown waits, after draining, for deliveries
// that ignored their cancellation.
const closeGrace = 5 * time.Second

// close closes every loaded function and the engine if the node owns it.
func (n *Node) close(ctx context.Context) error {
	var errs []error
	if n.cl != nil {
		n.cl.close()
	}
	n.reload.mu.Lock() // a reload under way is done (Shutdown canceled it)
	defer n.reload.mu.Unlock()
	var fns []*function
	if t := n.table.Load(); t != nil { // nil: New failed before its functions
		fns = t.order
	}
	for _, f := range fns {
		if err := f.fn.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close function %s: %w", f.name, err))
		}
		f.stdout.flush()
		f.stderr.flush()
	}
	// The functions a reload retired close when their last delivery ends:
	// after the drain, at once, unless a delivery ignored its cancellation.
	retired := make(chan struct{})
	go func() { n.retiring.Wait(); close(retired) }()
	select {
	case <-retired:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("close: functions a reload replaced still deliver: %w", ctx.Err()))
	}
	switch {
	case n.ownsEngine && n.abandoned != nil:
		// An engine must not be closed under a load: the abandoned one
		// closes what it made, then the engine, when it returns.
		go func(ctx context.Context, done <-chan loadResult, eng runtime.Engine) {
			if r := <-done; r.fn != nil {
				r.fn.Close(ctx)
			}
			eng.Close(ctx)
		}(context.WithoutCancel(ctx), n.abandoned, n.eng)
	case n.ownsEngine && n.eng != nil:
		if err := n.eng.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close engine: %w", err))
		}
	}
	n.closeAccels()
	n.metrics.unregister()
	if n.tr != nil {
		n.tr.shutdown(ctx, n)
	}
	n.killCancel()
	return errors.Join(errs...)
}
