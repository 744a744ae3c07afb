package node

import (
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

// metrics is a node's Prometheus registry. Every labelled child the hot path
// touches is resolved here, once, so that counting a transfer does not
// allocate.
type metrics struct {
	reg *prometheus.Registry

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
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
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
		Buckets: prometheus.ExponentialBuckets(1e-6, 4, 12), // 1µs .. 4s
	}, []string{"path"})
	m.invocations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rr_invocations_total",
		Help: "Payloads addressed to a function (ingress or send) by function and result, refusals included.",
	}, []string{"function", "result"})
	m.invokeTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "rr_invocation_duration_seconds",
		Help:    "Time from a delivery's start until the function's rr_handle returned, nested sends included; refusals excluded.",
		Buckets: prometheus.ExponentialBuckets(1e-5, 4, 12), // 10µs .. 42s
	}, []string{"function"})
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
	m.transfersVec, m.transferBytesVec = transfers, transferBytes
	m.transfers = make([]atomic.Pointer[transferCounters], nPaths*nMechs*len(codes))
	for _, path := range transport.Paths() {
		m.transferTime = append(m.transferTime, transferTime.WithLabelValues(path.String()))
	}
	m.reg.MustRegister(transfers, transferBytes, transferTime, m.invocations, m.invokeTime, m.fallbacks, m.refused, m.authFailures, m.mechanism, m.accel, m.zeroCopyCopied,
		m.peers, m.dnsLookups, m.dialFailures, m.routeRetries,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
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
}

// forFunction resolves fn's children and registers its replaced-instances
// counter, read from the pool's own count.
func (m *metrics) forFunction(name string, fn runtime.Function) functionMetrics {
	fm := functionMetrics{duration: m.invokeTime.WithLabelValues(name)}
	for _, c := range codes {
		fm.invocations = append(fm.invocations, m.invocations.WithLabelValues(name, c.Label()))
	}
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name:        "rr_instances_replaced_total",
		Help:        "Instances discarded after a trap, exit or interruption, and replaced.",
		ConstLabels: prometheus.Labels{"function": name},
	}, func() float64 { return float64(fn.Stats().Replaced) }))
	return fm
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
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "rr_peer_connections",
		Help:        "Connections open to a peer node, idle or carrying a transfer.",
		ConstLabels: prometheus.Labels{"peer": name},
	}, func() float64 { open, _ := p.Conns(); return float64(open) }))
	m.setMechanism(name, p.Mechanism())
}

// forServer registers the gauge of a transport server's connections.
func (m *metrics) forServer(s *transport.Server) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "rr_transport_connections",
		Help:        "Connections from peer nodes being served, by path.",
		ConstLabels: prometheus.Labels{"path": s.Path().String()},
	}, func() float64 { return float64(s.Conns()) }))
}

// forSockmap registers the sockmap's gauges: this node's sockets in the
// map, and the host's redirected messages and bytes.
func (m *metrics) forSockmap(s *transport.Sockmap) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "rr_sockmap_sockets",
		Help: "Sockets of this node's tcp connections in the host's sockmap (--accel sockmap): connections to nodes of this host that skip TCP.",
	}, func() float64 { return float64(s.Sockets()) }))
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
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
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "rr_sockmap_redirected_messages_total",
		Help: "Messages the host's sockmap program redirected from one socket to its peer's, by every node of the host since the program was loaded.",
	}, stat(false)))
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
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
