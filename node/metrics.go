package node

import (
	"errors"
	"fmt"
	"maps"
	goruntime "runtime"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/roadrunner-wasm/roadrunner/runtime"
	"github.com/roadrunner-wasm/roadrunner/transport"
)

// codes is the ABI code table; a code's index is -code.
var codes = runtime.Codes()

// codeIndex is the index in codes of err's code. It does not allocate.
func codeIndex(err error) int {
	i := -int(runtime.CodeOf(err))
	if i < 0 || i >= len(codes) {
		i = -int(runtime.CodeInternal)
	}
	return i
}

// nPaths and nMechs size the tables of transfer counters, indexed by
// transport.Path and transport.Mechanism.
var (
	nPaths = len(transport.Paths())
	nMechs = len(transport.Mechanisms())
)

// transferCounters are the children of rr_transfers_total and
// rr_transfer_bytes_total for one path, mechanism and result.
type transferCounters struct {
	n, bytes prometheus.Counter
}

// DurationBuckets are the upper bounds, in seconds, of the buckets of
// rr_transfer_duration_seconds and rr_invocation_duration_seconds: 1, 2.5
// and 5 times every power of ten from 1 µs to 10 s, then 60 s (the default
// invocation_timeout). A copy of a small payload on the memory path takes
// about a microsecond, an invocation may take a minute: one set of buckets
// covers both, three a decade, and a quantile read from them is off by at
// most the bucket's width (a factor of 2.5).
var DurationBuckets = durationBuckets()

func durationBuckets() []float64 {
	var b []float64
	for decade := 1e-6; decade < 100; decade *= 10 {
		b = append(b, decade, 2.5*decade, 5*decade)
	}
	return append(b, 60)
}

// metrics is a node's Prometheus metrics. Every labelled child the hot path
// touches is resolved here, once, so that counting a transfer does not
// allocate.
type metrics struct {
	// reg is what the node's /metrics serves: Options.Gatherer, else the
	// registry the node registers on.
	reg prometheus.Gatherer
	// to is where the node registers its collectors: Options.Registerer,
	// or the node's own registry. external says it is the caller's: the
	// node then leaves it as it found it when it closes.
	to       prometheus.Registerer
	external bool

	// mu guards collectors and registered. Collectors made while New runs
	// (functions, peers, servers) are registered together at its end, so
	// that a registry the caller scrapes never sees half a node.
	mu         sync.Mutex
	collectors []prometheus.Collector
	registered bool

	// transfers holds the children of the transfer counters by (path,
	// mechanism, code index), each made at its first transfer: a node
	// exports only the combinations it has seen, and counting one after
	// the first does not allocate.
	transfers        []atomic.Pointer[transferCounters]
	transfersVec     *prometheus.CounterVec
	transferBytesVec *prometheus.CounterVec
	transferTime     []prometheus.Observer // by path

	invocations    *prometheus.CounterVec
	invokeTime     *prometheus.HistogramVec
	functions      *functionsCollector
	peerConns      *peerConnsCollector
	fallbacks      *prometheus.CounterVec
	accel          *prometheus.GaugeVec
	zeroCopyCopied prometheus.Counter
	refused        *prometheus.CounterVec
	authFailures   *prometheus.CounterVec
	mechanism      *prometheus.GaugeVec
	peers          *prometheus.GaugeVec
	dnsLookups     *prometheus.CounterVec
	dialFailures   *prometheus.CounterVec
	routeRetries   prometheus.Counter
	reloads        *prometheus.CounterVec
	reloadOK       prometheus.Gauge
	restartPending prometheus.Gauge
	queueWait      *prometheus.HistogramVec
	queueRefused   *prometheus.CounterVec
	aborted        *prometheus.CounterVec
}

// errGathererAlone and errNoGatherer are the Options the node cannot serve
// /metrics from.
var (
	errGathererAlone = errors.New("node.Options.Gatherer without a Registerer: the node's metrics would be in neither; set Registerer too, or neither")
	errNoGatherer    = errors.New("node.Options.Registerer is not a prometheus.Gatherer (a wrapped registerer?): set Options.Gatherer to what the node's /metrics is to serve")
)

// newMetrics makes the node's metrics, to be registered where o says (see
// Options.Registerer). Nothing is registered on a registerer of the
// caller's until register.
func newMetrics(o *Options) (*metrics, error) {
	m := &metrics{to: o.Registerer, reg: o.Gatherer, external: o.Registerer != nil}
	switch {
	case o.Registerer == nil && o.Gatherer != nil:
		return nil, errGathererAlone
	case o.Registerer == nil:
		// The node's own registry: the Go runtime's and the process's
		// collectors too, as any Prometheus-instrumented program has. On a
		// registry of the caller's they are the caller's to register:
		// registering them twice fails.
		own := prometheus.NewRegistry()
		own.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		m.to, m.reg = own, own
	case o.Gatherer == nil:
		g, ok := o.Registerer.(prometheus.Gatherer)
		if !ok {
			return nil, errNoGatherer
		}
		m.reg = g
	}
	transfers := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rr_transfers_total",
		Help: "Payload transfers by path, mechanism that carried the payload (copy on the memory path; read for an HTTP body or a payload received with plain reads; writev, write or splice for a payload sent with plain calls; iouring for one sent or received through io_uring) and result (an ABI code label). A node counts the transfers it sends and those it receives.",
	}, []string{"path", "mechanism", "result"})
	transferBytes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rr_transfer_bytes_total",
		Help: "Payload bytes of transfers by path, mechanism and result.",
	}, []string{"path", "mechanism", "result"})
	transferTime := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "rr_transfer_duration_seconds",
		Help:    "Time until a payload sat in the receiver's memory (instance, rr_alloc, copy or read), by path.",
		Buckets: DurationBuckets,
	}, []string{"path"})
	m.invocations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rr_invocations_total",
		Help: "Payloads addressed to a function (ingress or send) by function and result, refusals included.",
	}, []string{"function", "result"})
	m.invokeTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "rr_invocation_duration_seconds",
		Help:    "Time from a delivery's start until the function's rr_handle returned, waiting for an instance and nested sends included; refusals excluded.",
		Buckets: DurationBuckets,
	}, []string{"function"})
	m.queueWait = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "rr_function_queue_wait_seconds",
		Help:    "How long deliveries to a function waited in its queue for an instance, those admitted after waiting (a delivery that found one free is not observed).",
		Buckets: DurationBuckets,
	}, []string{"function"})
	m.queueRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rr_function_queue_refused_total",
		Help: "Deliveries to a function its queue refused with busy, by reason: queue_full (every instance busy and the queue full, or the place taken by a source with fewer waiting), deadline (the invocation's deadline passed while it waited).",
	}, []string{"function", "reason"})
	m.aborted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rr_transfers_aborted_total",
		Help: "Transfers into a function's memory (an HTTP body, a frame's payload) aborted before they landed, by path and reason: stalled (no byte for node.read_progress_timeout), truncated (the sender went away), deadline (the invocation's deadline passed while an HTTP body was read), io (any other error). The instance is released at once, and replaced if its memory grew past recycle_memory.",
	}, []string{"path", "reason"})
	m.functions = newFunctionsCollector()
	m.peerConns = newPeerConnsCollector()
	m.fallbacks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rr_fallbacks_total",
		Help: "Transfers that were meant to use an accelerator or mechanism the system refused, by what was refused (iouring, sockmap, splice), what was used instead and why (an errno, or for sockmap peer_off, other_map, peer_refused, peer_not_found).",
	}, []string{"accel", "to", "reason"})
	m.accel = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "rr_accel",
		Help: "Accelerators asked for by --accel: 1 if in use, 0 if refused (the transfers fall back to plain syscalls).",
	}, []string{"accel"})
	m.zeroCopyCopied = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "rr_zerocopy_copied_total",
		Help: "Connections whose io_uring zero-copy sends the kernel reported copied (loopback, veth, a NIC without the support): zero copy was turned off for each.",
	})
	m.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rr_frames_refused_total",
		Help: "Connections of the unix and tcp paths closed because of what the peer sent, by path and reason (bad_frame, truncated, timeout, unknown_function, refused, max_conns, io).",
	}, []string{"path", "reason"})
	m.authFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rr_auth_failures_total",
		Help: "Connections and requests refused for failing authentication, by path (unix, tcp, http) and reason: no_hello, bad_mac, unknown_version, timeout, malformed or peer_cred on the unix and tcp paths (a peer this node dialed that failed to prove the key counts too); missing_token or bad_token on http.",
	}, []string{"path", "reason"})
	m.mechanism = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "rr_tcp_mechanism",
		Help: "The send mechanism of each peer (1 for the current one): writev on the unix path; write or splice on the tcp path, auto while it measures both.",
	}, []string{"peer", "mechanism"})
	m.peers = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "rr_cluster_peers",
		Help: "Peer nodes in this node's directory, static and discovered, by state: connecting (found in DNS, directory not yet had), up, down (failed; tried again after a backoff).",
	}, []string{"state"})
	m.dnsLookups = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rr_cluster_dns_lookups_total",
		Help: "Lookups of cluster.dns by result (ok, error). A failed lookup keeps the last directory.",
	}, []string{"result"})
	m.dialFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rr_dial_failures_total",
		Help: "Connections to peers that failed before anything was sent, by path and reason (refused, timeout, unreachable, auth, closed, removed, io).",
	}, []string{"path", "reason"})
	m.routeRetries = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "rr_route_retries_total",
		Help: "Sends tried again on another replica because the first failed before anything was sent.",
	})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rr_config_reloads_total",
		Help: "Reloads of the configuration (SIGHUP, a change of the file) by result: applied, unchanged, invalid (the file did not parse or check: nothing changed), failed (a module did not pull or load: nothing changed).",
	}, []string{"result"})
	for _, r := range []string{ReloadApplied, ReloadUnchanged, ReloadInvalid, ReloadFailed} {
		m.reloads.WithLabelValues(r)
	}
	m.reloadOK = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "rr_config_last_reload_successful",
		Help: "1 if the last reload of the configuration was applied (or changed nothing), 0 if it was refused; 1 before any.",
	})
	m.reloadOK.Set(1)
	m.restartPending = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "rr_config_restart_pending",
		Help: "1 if the configuration in force differs from the file in fields that apply only after a restart (the log names them), else 0.",
	})
	m.transfersVec, m.transferBytesVec = transfers, transferBytes
	m.transfers = make([]atomic.Pointer[transferCounters], nPaths*nMechs*len(codes))
	for _, path := range transport.Paths() {
		m.transferTime = append(m.transferTime, transferTime.WithLabelValues(path.String()))
	}
	m.collectors = append(m.collectors, transfers, transferBytes, transferTime, m.invocations, m.invokeTime, m.functions,
		m.fallbacks, m.refused, m.authFailures, m.mechanism, m.accel, m.zeroCopyCopied,
		m.peers, m.dnsLookups, m.dialFailures, m.routeRetries, m.reloads, m.reloadOK, m.restartPending, m.peerConns,
		m.queueWait, m.queueRefused, m.aborted)
	return m, nil
}

// transfer counts one hop: its path, the mechanism that carried it, its
// size, when it landed and its result (a code index).
func (m *metrics) transfer(p transport.Path, mech transport.Mechanism, bytes uint64, landedSeconds float64, landed bool, code int) {
	i := (int(p)*nMechs+int(mech))*len(codes) + code
	tc := m.transfers[i].Load()
	if tc == nil {
		tc = &transferCounters{
			n:     m.transfersVec.WithLabelValues(p.String(), mech.String(), codes[code].Label()),
			bytes: m.transferBytesVec.WithLabelValues(p.String(), mech.String(), codes[code].Label()),
		}
		m.transfers[i].Store(tc)
	}
	tc.n.Inc()
	tc.bytes.Add(float64(bytes))
	if landed {
		m.transferTime[p].Observe(landedSeconds)
	}
}

// functionMetrics are one function's resolved children.
type functionMetrics struct {
	invocations []prometheus.Counter // by code index
	duration    prometheus.Observer
	// inFlight counts the deliveries to the function under way, those
	// waiting for an instance included: rr_function_invocations_in_flight.
	inFlight *atomic.Int64
	// queueWait is how long admitted deliveries queued for an instance
	// (those that did not wait are not observed); queueFull and
	// queueDeadline count the deliveries the queue refused.
	queueWait                prometheus.Observer
	queueFull, queueDeadline prometheus.Counter
}

// refused counts a delivery the function's queue refused, by reason.
func (fm *functionMetrics) refused(reason string) {
	if reason == queueFull {
		fm.queueFull.Inc()
	} else {
		fm.queueDeadline.Inc()
	}
}

// forFunction resolves fn's children and adds it to the gauges read from
// its pool at scrape time.
func (m *metrics) forFunction(name string, fn runtime.Function, queued *atomic.Int64) functionMetrics {
	fm := functionMetrics{
		duration:      m.invokeTime.WithLabelValues(name),
		inFlight:      new(atomic.Int64),
		queueWait:     m.queueWait.WithLabelValues(name),
		queueFull:     m.queueRefused.WithLabelValues(name, queueFull),
		queueDeadline: m.queueRefused.WithLabelValues(name, queueDeadline),
	}
	for _, c := range codes {
		fm.invocations = append(fm.invocations, m.invocations.WithLabelValues(name, c.Label()))
	}
	m.functions.add(name, fn, fm.inFlight, queued)
	return fm
}

// add registers c with the node's other collectors: at once if register
// ran already, else with them.
func (m *metrics) add(c prometheus.Collector) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.registered {
		if err := m.to.Register(c); err != nil {
			return // only New adds collectors today; one added later that clashes is left out
		}
	}
	m.collectors = append(m.collectors, c)
}

// register registers the node's collectors, and rr_build_info and
// rr_invocations_in_flight, which New knows once its engine is made. It
// registers all of them or none.
func (m *metrics) register(version string, eng runtime.Engine, inFlight func() float64) error {
	if version == "" {
		version = moduleVersion()
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "rr_build_info",
		Help: "Always 1: the node's version, the Go version it was built with, its Wasm engine and that engine's version.",
		ConstLabels: prometheus.Labels{
			"version":        version,
			"goversion":      goruntime.Version(),
			"engine":         eng.Name(),
			"engine_version": eng.Version(),
		},
	})
	info.Set(1)
	nodeInFlight := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "rr_invocations_in_flight",
		Help: "Invocations begun on this node (over HTTP, through Invoke, or a payload from a peer node) and not finished: each counts once, whatever its chain of sends.",
	}, inFlight)

	m.mu.Lock()
	defer m.mu.Unlock()
	m.collectors = append(m.collectors, info, nodeInFlight)
	for i, c := range m.collectors {
		if err := m.to.Register(c); err != nil {
			for _, done := range m.collectors[:i] {
				m.to.Unregister(done)
			}
			return fmt.Errorf("register metrics: %w", err)
		}
	}
	m.registered = true
	return nil
}

// unregister takes the node's collectors off a registerer of the caller's,
// so that a node made after this one can register there again.
func (m *metrics) unregister() {
	if m == nil || !m.external {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.registered {
		return
	}
	for _, c := range m.collectors {
		m.to.Unregister(c)
	}
	m.registered = false
}

// moduleVersion is Roadrunner's module version in the running binary's
// build info: the main module's if the binary is Roadrunner's own (rrnode,
// a test), else that of the dependency; "unknown" without build info.
func moduleVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if bi.Main.Path == modulePath {
		return bi.Main.Version
	}
	return runtime.DependencyVersion(modulePath)
}

const modulePath = "github.com/roadrunner-wasm/roadrunner"

// functionsCollector exports what each function's pool counts, read at
// scrape time: nothing on the hot path but rr_function_invocations_in_flight's
// atomic add.
type functionsCollector struct {
	mu  sync.Mutex
	fns []collectedFunction
	// replacedBefore is what the instances of a function's versions that
	// a reload closed had replaced: rr_instances_replaced_total goes on
	// from there.
	replacedBefore map[string]uint64
	inFlight       *prometheus.Desc
	poolSize       *prometheus.Desc
	instances      *prometheus.Desc
	replaced       *prometheus.Desc
	recycled       *prometheus.Desc
	queued         *prometheus.Desc
	// recycledBefore is replacedBefore's for rr_instances_recycled_total.
	recycledBefore map[string]uint64
}

type collectedFunction struct {
	name     string
	fn       runtime.Function
	inFlight *atomic.Int64
	queued   *atomic.Int64
}

func newFunctionsCollector() *functionsCollector {
	fn := []string{"function"}
	return &functionsCollector{
		inFlight: prometheus.NewDesc("rr_function_invocations_in_flight",
			"Deliveries to a function under way, those waiting for an idle instance included: with rr_function_pool_size, what an autoscaler reads (above the pool size, payloads queue).", fn, nil),
		poolSize: prometheus.NewDesc("rr_function_pool_size",
			"The most instances a function runs at once (its pool).", fn, nil),
		instances: prometheus.NewDesc("rr_function_instances",
			"A function's live instances by state: busy (running a delivery) or idle. Instances are made on demand, up to the pool size.", []string{"function", "state"}, nil),
		replaced: prometheus.NewDesc("rr_instances_replaced_total",
			"Instances discarded after a trap, exit or interruption, and replaced.", fn, nil),
		recycled: prometheus.NewDesc("rr_instances_recycled_total",
			"Instances closed when they returned to the pool with more memory than the function's recycle_memory (a large, failed or aborted payload made the guest grow), and replaced by fresh ones: the memory goes back to the system.", fn, nil),
		queued: prometheus.NewDesc("rr_function_queue_length",
			"Deliveries waiting for an instance of a function now (at most its queue).", fn, nil),
	}
}

func (c *functionsCollector) add(name string, fn runtime.Function, inFlight, queued *atomic.Int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fns = append(c.fns, collectedFunction{name, fn, inFlight, queued})
}

// remove takes a function a reload closed out of the collector.
func (c *functionsCollector) remove(fn runtime.Function) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, f := range c.fns {
		if f.fn == fn {
			if c.replacedBefore == nil {
				c.replacedBefore = map[string]uint64{}
			}
			if c.recycledBefore == nil {
				c.recycledBefore = map[string]uint64{}
			}
			st := fn.Stats()
			c.replacedBefore[f.name] += st.Replaced
			c.recycledBefore[f.name] += st.Recycled
			c.fns = slices.Delete(slices.Clone(c.fns), i, i+1)
			return
		}
	}
}

// Describe implements prometheus.Collector.
func (c *functionsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.inFlight
	ch <- c.poolSize
	ch <- c.instances
	ch <- c.replaced
	ch <- c.recycled
	ch <- c.queued
}

// Collect implements prometheus.Collector.
func (c *functionsCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	fns := c.fns
	before := maps.Clone(c.replacedBefore)
	recycledBefore := maps.Clone(c.recycledBefore)
	c.mu.Unlock()
	// While a reload replaces a function, its old version finishes its
	// deliveries beside the new one: one series, the sum of both.
	type sum struct {
		inFlight, queued                  int64
		size, busy, idle, replac, recycle uint64
	}
	var names []string
	sums := map[string]*sum{}
	for _, f := range fns {
		st := f.fn.Stats()
		s := sums[f.name]
		if s == nil {
			s = &sum{replac: before[f.name], recycle: recycledBefore[f.name]}
			sums[f.name] = s
			names = append(names, f.name)
		}
		s.inFlight += f.inFlight.Load()
		s.size += uint64(st.Size)
		s.busy += uint64(max(st.Live-st.Idle, 0))
		s.idle += uint64(st.Idle)
		s.replac += st.Replaced
		s.recycle += st.Recycled
		s.queued += f.queued.Load()
	}
	for _, name := range names {
		s := sums[name]
		ch <- prometheus.MustNewConstMetric(c.inFlight, prometheus.GaugeValue, float64(s.inFlight), name)
		ch <- prometheus.MustNewConstMetric(c.poolSize, prometheus.GaugeValue, float64(s.size), name)
		ch <- prometheus.MustNewConstMetric(c.instances, prometheus.GaugeValue, float64(s.busy), name, "busy")
		ch <- prometheus.MustNewConstMetric(c.instances, prometheus.GaugeValue, float64(s.idle), name, "idle")
		ch <- prometheus.MustNewConstMetric(c.replaced, prometheus.CounterValue, float64(s.replac), name)
		ch <- prometheus.MustNewConstMetric(c.recycled, prometheus.CounterValue, float64(s.recycle), name)
		ch <- prometheus.MustNewConstMetric(c.queued, prometheus.GaugeValue, float64(s.queued), name)
	}
}

// refused counts a connection a transport server closed.
func (m *metrics) refusal(path transport.Path, reason string) {
	m.refused.WithLabelValues(path.String(), reason).Inc()
}

// authFailure counts one connection or request refused for failing
// authentication on path ("unix", "tcp" or "http").
func (m *metrics) authFailure(path, reason string) {
	m.authFailures.WithLabelValues(path, reason).Inc()
}

// setMechanism records peer's current send mechanism.
func (m *metrics) setMechanism(peer string, mechanism transport.Mechanism) {
	for _, mech := range []transport.Mechanism{transport.MechanismWritev, transport.MechanismAuto, transport.MechanismWrite, transport.MechanismSplice} {
		v := 0.0
		if mech == mechanism {
			v = 1
		}
		m.mechanism.WithLabelValues(peer, mech.String()).Set(v)
	}
}

// forPeer registers the gauges of a peer's connections.
func (m *metrics) forPeer(name string, p *transport.Peer) {
	m.peerConns.set(name, p)
	m.setMechanism(name, p.Mechanism())
}

// dropFunction removes the series of a function a reload removed.
func (m *metrics) dropFunction(name string) {
	m.invocations.DeletePartialMatch(prometheus.Labels{"function": name})
	m.invokeTime.DeleteLabelValues(name)
	m.queueWait.DeleteLabelValues(name)
	m.queueRefused.DeletePartialMatch(prometheus.Labels{"function": name})
}

// dropPeer removes the series of a static peer a reload took out.
func (m *metrics) dropPeer(name string) {
	m.peerConns.set(name, nil)
	m.mechanism.DeletePartialMatch(prometheus.Labels{"peer": name})
}

// peerConnsCollector is rr_peer_connections: the static peers' open
// connections, read at scrape time from the peers in force.
type peerConnsCollector struct {
	desc  *prometheus.Desc
	mu    sync.Mutex
	peers map[string]*transport.Peer
}

func newPeerConnsCollector() *peerConnsCollector {
	return &peerConnsCollector{
		desc:  prometheus.NewDesc("rr_peer_connections", "Connections open to a peer node, idle or carrying a transfer.", []string{"peer"}, nil),
		peers: map[string]*transport.Peer{},
	}
}

// set makes p the peer named name; nil removes it.
func (c *peerConnsCollector) set(name string, p *transport.Peer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p == nil {
		delete(c.peers, name)
		return
	}
	c.peers[name] = p
}

// Describe implements prometheus.Collector.
func (c *peerConnsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *peerConnsCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	peers := maps.Clone(c.peers)
	c.mu.Unlock()
	for name, p := range peers {
		open, _ := p.Conns()
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(open), name)
	}
}

// forServer registers the gauge of a transport server's connections.
func (m *metrics) forServer(s *transport.Server) {
	m.add(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "rr_transport_connections",
		Help:        "Connections from peer nodes being served, by path.",
		ConstLabels: prometheus.Labels{"path": s.Path().String()},
	}, func() float64 { return float64(s.Conns()) }))
}

// forSockmap registers the sockmap's gauges: this node's sockets in the
// map, and the host's redirected messages and bytes.
func (m *metrics) forSockmap(s *transport.Sockmap) {
	m.add(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "rr_sockmap_sockets",
		Help: "Sockets of this node's tcp connections in the host's sockmap (--accel sockmap): connections to nodes of this host that skip TCP.",
	}, func() float64 { return float64(s.Sockets()) }))
	m.add(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "rr_sockmap_host_sockets",
		Help: "Sockets in the host's sockmap, of every node of the host: each leaves it when its connection closes.",
	}, func() float64 { n, _ := s.HostSockets(); return float64(n) }))
	stat := func(bytes bool) func() float64 {
		return func() float64 {
			msgs, n, err := s.Stats()
			if err != nil {
				return 0
			}
			if bytes {
				return float64(n)
			}
			return float64(msgs)
		}
	}
	m.add(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "rr_sockmap_redirected_messages_total",
		Help: "Messages the host's sockmap program redirected from one socket to its peer's, by every node of the host since the program was loaded.",
	}, stat(false)))
	m.add(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "rr_sockmap_redirected_bytes_total",
		Help: "Bytes of those messages.",
	}, stat(true)))
}

// setAccel sets rr_accel for an accelerator asked for.
func (m *metrics) setAccel(accel transport.Accels, on bool) {
	v := 0.0
	if on {
		v = 1
	}
	m.accel.WithLabelValues(accel.String()).Set(v)
}

// fallback counts one transfer that fell back (transport's OnFallback).
func (m *metrics) fallback(accel, to, reason string) {
	m.fallbacks.WithLabelValues(accel, to, reason).Inc()
}

// setPeers sets rr_cluster_peers from counts by state.
func (m *metrics) setPeers(byState map[string]int) {
	for state, n := range byState {
		m.peers.WithLabelValues(state).Set(float64(n))
	}
}

// dialFailure counts a connection to a peer that failed before anything
// was sent.
func (m *metrics) dialFailure(path, reason string) {
	m.dialFailures.WithLabelValues(path, reason).Inc()
}

// invocationsInFlight is rr_invocations_in_flight: the invocations begun
// and not ended, read under the node's lock at scrape time.
func (n *Node) invocationsInFlight() float64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return float64(n.inflight)
}
