package node

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/roadrunner-wasm/roadrunner/runtime"
	"github.com/roadrunner-wasm/roadrunner/transport"
	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

// States of a peer in the directory (PeerView.State).
const (
	StateConnecting = "connecting" // discovered, its directory not yet had
	StateUp         = "up"         // takes transfers
	StateDown       = "down"       // failed: tried again after its backoff
	StateSelf       = "self"       // this node's own address
)

// Backoff of a peer marked down: it doubles from minBackoff at each
// failure in a row, up to maxBackoff.
const (
	minBackoff = 500 * time.Millisecond
	maxBackoff = 30 * time.Second
)

// member is one peer node in the directory: a static peer of the config,
// or one that DNS found.
type member struct {
	static   bool
	address  string          // the tcp (or static unix) address dialed
	maxConns int             // a static peer's max_conns
	tcp      *transport.Peer // the peer at address
	// via is the peer transfers use: the peer's unix socket once this
	// node has reached it and the node there proved to be the same one,
	// else tcp.
	via      atomic.Pointer[transport.Peer]
	sameHost atomic.Bool // the peer said this node's host id; or a static unix peer
	inFlight atomic.Int64
	// downUntil is when a down peer may be tried again (unix nanoseconds);
	// 0 while up.
	downUntil atomic.Int64
	probing   atomic.Bool

	// Guarded by cluster.mu.
	name      string
	instance  [16]byte
	host      [16]byte
	hasHost   bool
	unixPath  string
	unix      *transport.Peer // the same-host unix peer, if verified
	gen       uint64
	functions []string
	state     string
	backoff   time.Duration
	lastError string
	removed   bool
}

// peer returns what transfers to m use now.
func (m *member) peer() *transport.Peer { return m.via.Load() }

// eligible reports whether m may take a transfer now: up, or down with
// its backoff over (the transfer is its trial).
func (m *member) eligible(now int64) bool { return m.downUntil.Load() <= now }

// routeTable maps a function to the peers that host it, nearest first:
// tiers[0] the peers of this host, tiers[1] the others (one tier under
// route: any). It is rebuilt on every change and read without a lock.
type routeTable struct {
	fns map[string]*replicas
}

type replicas struct {
	tiers [][]*member
}

// cluster is a node's directory: its peers, static and discovered, and
// what each hosts.
type cluster struct {
	n        *Node
	mu       sync.Mutex
	members  map[string]*member
	table    atomic.Pointer[routeTable]
	self     atomic.Pointer[wire.Directory] // what this node says of itself
	conf     atomic.Pointer[ClusterConfig]  // the cluster section in force
	instance [16]byte

	// DNS discovery, if cluster.dns is set.
	resolver *net.Resolver
	own      map[netip.Addr]bool // this node's interface addresses, when it listens on cluster.port
	kick     chan struct{}       // a refresh now
	stop     context.CancelFunc
	done     chan struct{}
	probes   sync.WaitGroup
	dns      dnsState // guarded by mu
}

// dnsState is what the last lookups found.
type dnsState struct {
	lastOK    time.Time
	lastErr   string
	lastErrAt time.Time
	addresses []string
	failures  int64
}

// newCluster makes the directory of n with its static peers; discovery
// starts with start.
func newCluster(n *Node) (*cluster, error) {
	cl := &cluster{n: n, members: map[string]*member{}, kick: make(chan struct{}, 1)}
	conf := n.cfg.Cluster
	cl.conf.Store(&conf)
	n.cl = cl // the peers' DialOptions.Directory
	if _, err := crand.Read(cl.instance[:]); err != nil {
		return nil, fmt.Errorf("instance id: %w", err)
	}
	d := &wire.Directory{Name: n.cfg.Node.Name, Instance: cl.instance, Unix: n.cfg.Node.Listen.Unix, Generation: 1}
	if id, err := transport.HostID(); err == nil {
		d.Host, d.HasHost = id, true
	}
	if len(d.Unix) > wire.MaxUnixPath {
		d.Unix = ""
	}
	for _, f := range n.cfg.Functions {
		d.Functions = append(d.Functions, f.Name)
	}
	cl.self.Store(d)
	for _, pc := range n.cfg.Peers {
		tp, err := n.newPeer(pc.Address, pc.Name, pc.MaxConns, false)
		if err != nil {
			return nil, fmt.Errorf("peer %s: %w", pc.Name, err)
		}
		m := staticMember(pc, tp)
		n.metrics.forPeer(pc.Name, tp)
		cl.members["static/"+pc.Name] = m
	}
	cl.rebuild()
	return cl, nil
}

// directory is what this node says about itself (ServerOptions.Directory,
// DialOptions.Directory).
func (cl *cluster) directory() *wire.Directory { return cl.self.Load() }

// newPeer makes a transport peer of this node's settings, which speaks
// the directory. A discovered peer (found through DNS, named by its
// address) gets no rr_tcp_mechanism series: peers come and go.
func (n *Node) newPeer(address, name string, maxConns int, discovered bool) (*transport.Peer, error) {
	c := &n.cfg
	log := n.log.With("peer_name", name)
	o := &transport.DialOptions{
		Mechanism:   c.Node.TCPSend,
		MaxConns:    maxConns,
		DialTimeout: c.Node.DialTimeout,
		IOTimeout:   c.Node.IOTimeout,
		Verify:      c.Node.Verify,
		MaxReply:    c.Node.MaxPayload,
		Logger:      log,
		OnFallback:  n.fallback,
		IOURing:     n.accels.iouring,
		ZeroCopy:    n.accels.iouring,
		Sockmap:     n.accels.sockmap,
		OnMechanism: func(mechanism transport.Mechanism, why string) {
			if !discovered {
				n.metrics.setMechanism(name, mechanism)
			}
			log.Info("send mechanism chosen", "peer", address, "mechanism", mechanism.String(), "why", why)
		},
		OnZeroCopyCopied: n.zeroCopyCopied,
		Auth:             n.sec.auth,
		TLS:              n.sec.tls,
		Directory:        n.cl.directory,
		SharedMemory:     n.accels.shm,
		Trace:            true, // sent only when the invocation has a span (tracing on)
	}
	return transport.NewPeer(address, o)
}

// rebuild makes the route table from the members. Call it with mu held or
// before the cluster is shared.
func (cl *cluster) rebuild() {
	nearest := cl.n.cfg.Node.Route == RouteNearest
	t := &routeTable{fns: map[string]*replicas{}}
	seen := map[[16]byte]bool{}
	keys := make([]string, 0, len(cl.members))
	for k := range cl.members {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the same table for the same members
	for _, k := range keys {
		m := cl.members[k]
		if m.state == StateSelf || m.state == StateConnecting || m.removed {
			continue
		}
		if !m.static {
			if seen[m.instance] {
				continue // one node behind two addresses: once is enough
			}
			seen[m.instance] = true
		}
		tier := 1
		if !nearest || m.sameHost.Load() {
			tier = 0
		}
		for _, f := range m.functions {
			r := t.fns[f]
			if r == nil {
				r = &replicas{tiers: make([][]*member, 2)}
				t.fns[f] = r
			}
			r.tiers[tier] = append(r.tiers[tier], m)
		}
	}
	cl.table.Store(t)
	cl.n.metrics.setPeers(cl.countStates())
}

// countStates counts the members by state. Call with mu held.
func (cl *cluster) countStates() map[string]int {
	c := map[string]int{StateConnecting: 0, StateUp: 0, StateDown: 0}
	for _, m := range cl.members {
		if m.state != StateSelf && !m.removed {
			c[m.state]++
		}
	}
	return c
}

// pick chooses the peer a send to fn goes to, skipping not: the first tier
// with a peer that may take it; within it the less loaded of two picked at
// random (power of two choices). If no peer may take it now, the one whose
// backoff ends first. nil if no peer hosts fn.
func (t *routeTable) pick(fn string, not *member) *member {
	r := t.fns[fn]
	if r == nil {
		return nil
	}
	now := time.Now().UnixNano()
	for _, tier := range r.tiers {
		if m := pickTwo(tier, not, now); m != nil {
			return m
		}
	}
	var best *member
	for _, tier := range r.tiers {
		for _, m := range tier {
			if m != not && (best == nil || m.downUntil.Load() < best.downUntil.Load()) {
				best = m
			}
		}
	}
	return best
}

// pickTwo is the power of two choices among the members of tier that may
// take a transfer now, not excepted.
func pickTwo(tier []*member, not *member, now int64) *member {
	switch len(tier) {
	case 0:
		return nil
	case 1:
		if m := tier[0]; m != not && m.eligible(now) {
			return m
		}
		return nil
	}
	var a, b *member
	// Two random draws; fall back to a scan when they find nothing.
	for range 2 {
		m := tier[rand.IntN(len(tier))]
		if m == not || !m.eligible(now) {
			continue
		}
		if a == nil {
			a = m
		} else if m != a {
			b = m
		}
	}
	if a == nil {
		for _, m := range tier {
			if m != not && m.eligible(now) {
				a = m
				break
			}
		}
	}
	if b != nil && b.inFlight.Load() < a.inFlight.Load() {
		return b
	}
	return a
}

// sendRemote sends payload to a function that peers host, within inv: to
// m, the one t picked. A send that failed before any byte left (no
// connection, a refused HELLO) is tried once more on another replica; one
// that may have reached the peer is not (at most once).
func (n *Node) sendRemote(inv *invocation, t *routeTable, m *member, from, to string, payload []byte) error {
	err := n.sendTo(inv, m, from, to, payload)
	if err == nil || !errors.Is(err, transport.ErrNotSent) || ended(inv.ctx) {
		return err
	}
	other := t.pick(to, m)
	if other == nil || other == m {
		return err
	}
	n.metrics.routeRetries.Inc()
	return n.sendTo(inv, other, from, to, payload)
}

// sendTo sends payload to the function to of peer m, within inv.
func (n *Node) sendTo(inv *invocation, m *member, from, to string, payload []byte) error {
	p := m.peer()
	size := uint64(len(payload))
	start := time.Now()
	path := p.Path()
	hop := inv.startHop(from, to, path, size)
	var reply io.Writer
	if inv.reply != nil && !inv.replied {
		reply = inv.relay
	}
	inv.send = transport.SendOptions{Depth: uint32(inv.depth()), Hops: inv.hopsIn, Trace: inv.outgoing()}
	m.inFlight.Add(1)
	inv.sendHop = hop
	sent, err := p.SendWith(inv.ctx, to, payload, reply, &inv.send)
	inv.sendHop = -1
	m.inFlight.Add(-1)
	if err != nil {
		// A send cut short by its invocation's end says nothing of the
		// peer.
		if !ended(inv.ctx) {
			n.cl.failed(m, p, err)
		}
		err = remoteError(m, to, err)
	} else if m.downUntil.Load() != 0 {
		n.cl.up(m)
	}
	total := time.Since(start)
	code := codeIndex(err)
	inv.endHop(hop, sent.Landed, total, code)
	inv.fail(hop, err)
	inv.endSpan(sent.Mechanism, sent.Landed, code, err)
	n.metrics.transfer(path, sent.Mechanism, size, sent.Landed.Seconds(), sent.Landed > 0, code)
	return err
}

// ended reports whether ctx has ended or its deadline passed: the
// deadline, set on a socket, may fail a read before the context's own
// timer fires.
func ended(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

// remoteError turns a transport error into one that carries its ABI code:
// the ACK's status, or transport for a failed connection.
func remoteError(m *member, to string, err error) error {
	var se *transport.StatusError
	if errors.As(err, &se) {
		code := runtime.Code(se.Status)
		return fmt.Errorf("%s on peer %s: %w", to, m.label(), code)
	}
	return fmt.Errorf("send to %s on peer %s: %w: %w", to, m.label(), runtime.CodeTransport, err)
}

// label names m in errors and logs: its name once known, else its address.
func (m *member) label() string {
	if m.static {
		return m.name
	}
	return m.address
}

// failed marks m down after a transfer or exchange through p failed for
// the connection's sake (not a status of its function), logs it
// (rate-limited) and counts it, and asks discovery to look again.
func (cl *cluster) failed(m *member, p *transport.Peer, err error) {
	var se *transport.StatusError
	if errors.As(err, &se) {
		return // the peer answered: it is up
	}
	n := cl.n
	reason := dialReason(err)
	if errors.Is(err, transport.ErrNotSent) {
		n.metrics.dialFailure(p.Path().String(), reason)
	}
	var ae *transport.AuthError
	if errors.As(err, &ae) && ae.Reason != "" {
		n.metrics.authFailure(p.Path().String(), ae.Reason)
	}
	cl.mu.Lock()
	if m.removed {
		// Gone from DNS while the transfer or probe ran: nothing to mark.
		cl.mu.Unlock()
		return
	}
	if p == m.unix {
		// The peer's socket failed: its tcp address takes over, and the
		// socket is tried again once the peer answers there.
		m.unix.Close()
		m.unix = nil
		m.via.Store(m.tcp)
	}
	m.backoff = min(max(2*m.backoff, minBackoff), maxBackoff)
	m.downUntil.Store(time.Now().Add(m.backoff).UnixNano())
	wasUp := m.state == StateUp
	if m.state != StateSelf {
		m.state = StateDown
	}
	m.lastError = err.Error()
	name, backoff := m.name, m.backoff
	if wasUp {
		cl.rebuild()
	} else {
		n.metrics.setPeers(cl.countStates())
	}
	cl.mu.Unlock()
	n.refusalLog.warn("peer/"+reason, "peer failed: marked down", "peer_name", name, "peer", p.Address(), "reason", reason, "retry_in", backoff.String(), "err", err)
	cl.refresh()
}

// up marks m up again after a transfer through it succeeded.
func (cl *cluster) up(m *member) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if m.state == StateDown {
		m.state = StateUp
		cl.rebuild()
	}
	m.backoff = 0
	m.downUntil.Store(0)
}

// dialReason classifies a failed connection: refused, timeout,
// unreachable, auth, closed (the peer closed or reset it), or io.
func dialReason(err error) string {
	var ae *transport.AuthError
	switch {
	case errors.As(err, &ae):
		return "auth"
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, os.ErrNotExist):
		return "refused"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "unreachable"
	case errors.Is(err, transport.ErrConnClosed), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "closed"
	case errors.Is(err, transport.ErrPeerClosed):
		return "removed"
	}
	return "io"
}

// refresh asks the discovery loop for a lookup now; it does not wait.
func (cl *cluster) refresh() {
	select {
	case cl.kick <- struct{}{}:
	default:
	}
}

// start starts discovery, if cluster.dns is set.
func (cl *cluster) start() {
	c := *cl.conf.Load()
	if c.DNS == "" {
		return
	}
	cl.resolver = net.DefaultResolver
	if c.Resolver != "" {
		d := net.Dialer{Timeout: 2 * time.Second}
		cl.resolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, c.Resolver)
		}}
	}
	cl.own = ownAddrs(cl.n.cfg.Node.Listen.TCP, c.Port)
	ctx, cancel := context.WithCancel(context.Background())
	cl.mu.Lock()
	cl.stop, cl.done = cancel, make(chan struct{})
	cl.mu.Unlock()
	go cl.discover(ctx)
}

// stopDiscovery stops discovery and waits for its probes.
func (cl *cluster) stopDiscovery() {
	cl.mu.Lock()
	stop, done := cl.stop, cl.done
	cl.stop = nil
	cl.mu.Unlock()
	if stop != nil {
		stop()
		<-done
		cl.probes.Wait()
	}
}

// setCluster makes c the cluster section in force (a reload's): discovery
// starts again from nothing with it, the peers it found are dropped
// (transfers under way finish on their connections). The static peers
// stay.
func (cl *cluster) setCluster(c ClusterConfig) {
	cl.stopDiscovery()
	cl.mu.Lock()
	for key, m := range cl.members {
		if !m.static {
			m.removed = true
			m.close()
			delete(cl.members, key)
		}
	}
	cl.dns = dnsState{}
	cl.rebuild()
	cl.mu.Unlock()
	cl.conf.Store(&c)
	cl.start()
}

// close stops discovery and closes every peer.
func (cl *cluster) close() {
	cl.stopDiscovery()
	cl.mu.Lock()
	defer cl.mu.Unlock()
	for _, m := range cl.members {
		m.close()
	}
}

// close closes m's peers: connections in use close when their transfer
// ends. Call with mu held.
func (m *member) close() {
	if m.tcp == nil {
		return // this node's own address
	}
	m.tcp.Close()
	if m.unix != nil {
		m.unix.Close()
	}
}

// discover resolves cluster.dns every refresh, or at once when a peer
// failed, and keeps the members in step; between lookups it probes each
// down peer again when its backoff ends.
func (cl *cluster) discover(ctx context.Context) {
	cl.mu.Lock()
	done := cl.done
	cl.mu.Unlock()
	defer close(done)
	c := *cl.conf.Load()
	timer := time.NewTimer(0)
	defer timer.Stop()
	var last time.Time
	lookup := true
	for {
		if lookup {
			// A burst of failures asks for many lookups: one per
			// MinClusterRefresh is enough.
			if wait := MinClusterRefresh - time.Since(last); wait > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(wait):
				}
			}
			last = time.Now()
			cl.lookup(ctx)
		} else {
			cl.probeDue(ctx)
		}
		next := time.Until(last.Add(c.Refresh))
		wait := next
		if r, ok := cl.nextRetry(); ok && r < wait {
			wait = max(r, MinClusterRefresh)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
			lookup = time.Since(last) >= c.Refresh
		case <-cl.kick:
			lookup = true
		}
	}
}

// nextRetry is how long until the first backoff of a discovered down
// peer ends; false if none is down.
func (cl *cluster) nextRetry() (time.Duration, bool) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	var first int64
	for _, m := range cl.members {
		if m.static || m.state != StateDown {
			continue
		}
		if d := m.downUntil.Load(); first == 0 || d < first {
			first = d
		}
	}
	if first == 0 {
		return 0, false
	}
	return time.Until(time.Unix(0, first)), true
}

// lookup resolves the name once and applies the answer: new addresses
// become members and are probed, those gone are removed, the others are
// probed again (a heartbeat that also carries directory changes). A failed
// lookup changes nothing.
func (cl *cluster) lookup(ctx context.Context) {
	n := cl.n
	c := *cl.conf.Load()
	lctx, cancel := context.WithTimeout(ctx, max(c.Refresh, 2*time.Second))
	ips, err := cl.resolver.LookupNetIP(lctx, "ip", c.DNS)
	cancel()
	if ctx.Err() != nil {
		return
	}
	var dnsErr *net.DNSError
	if err != nil && errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		err, ips = nil, nil // the name has no ready nodes behind it: none
	}
	cl.mu.Lock()
	if err != nil {
		cl.dns.failures++
		cl.dns.lastErr, cl.dns.lastErrAt = err.Error(), time.Now()
		cl.mu.Unlock()
		n.metrics.dnsLookups.WithLabelValues("error").Inc()
		n.refusalLog.warn("dns", "cluster DNS lookup failed: keeping the last directory", "name", c.DNS, "err", err)
		cl.probeDue(ctx)
		return
	}
	n.metrics.dnsLookups.WithLabelValues("ok").Inc()
	want := map[string]netip.AddrPort{} // by address
	for _, ip := range ips {
		ap := netip.AddrPortFrom(ip.Unmap(), uint16(c.Port))
		want["tcp://"+ap.String()] = ap
	}
	cl.dns.lastOK = time.Now()
	cl.dns.addresses = slices.Sorted(maps.Keys(want))
	changed := false
	for key, m := range cl.members {
		if _, ok := want[key]; ok || m.static {
			continue
		}
		// Gone from DNS: no new transfers; those under way finish on
		// their connections.
		m.removed = true
		m.close()
		delete(cl.members, key)
		changed = true
		n.log.Info("peer left the cluster", "peer_name", m.name, "peer", m.address)
	}
	for addr, ap := range want {
		if cl.members[addr] != nil {
			continue
		}
		if cl.own[ap.Addr()] {
			// This node's own address: known without dialing itself
			// (its listener may not be open yet).
			m := &member{address: addr, state: StateSelf, name: n.cfg.Node.Name, instance: cl.instance}
			cl.members[addr] = m
			continue
		}
		tp, err := n.newPeer(addr, addr, c.MaxConns, true)
		if err != nil {
			n.refusalLog.warn("peer/config", "discovered peer not usable", "peer", addr, "err", err)
			continue
		}
		m := &member{address: addr, tcp: tp, state: StateConnecting}
		m.via.Store(tp)
		cl.members[addr] = m
	}
	if changed {
		cl.rebuild()
	}
	cl.mu.Unlock()
	cl.probeDue(ctx)
}

// probeDue probes every discovered member not probed already: each in a
// goroutine of its own, so that a slow peer holds up no other.
func (cl *cluster) probeDue(ctx context.Context) {
	cl.mu.Lock()
	var due []*member
	now := time.Now().UnixNano()
	for _, m := range cl.members {
		if m.static || m.state == StateSelf || !m.eligible(now) {
			continue
		}
		if m.probing.CompareAndSwap(false, true) {
			due = append(due, m)
		}
	}
	cl.mu.Unlock()
	for _, m := range due {
		cl.probes.Go(func() {
			defer m.probing.Store(false)
			cl.probe(ctx, m)
		})
	}
}

// probe exchanges directories with m over tcp and applies what it says;
// a peer of this host with a unix socket this node can reach is then
// reached there, once the node behind the socket proves to be the same
// (same instance) through its own HELLO and directory.
func (cl *cluster) probe(ctx context.Context, m *member) {
	n := cl.n
	timeout := n.cfg.Node.DialTimeout + n.cfg.Node.IOTimeout
	pctx, cancel := context.WithTimeout(ctx, timeout)
	d, err := m.tcp.Exchange(pctx)
	cancel()
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		cl.failed(m, m.tcp, err)
		return
	}
	if d.Instance == cl.instance {
		cl.mu.Lock()
		if m.state != StateSelf {
			n.log.Debug("cluster: this node's own address", "peer", m.address)
		}
		m.state, m.name = StateSelf, d.Name
		m.close()
		cl.rebuild()
		cl.mu.Unlock()
		return
	}
	self := cl.directory()
	same := d.HasHost && self.HasHost && d.Host == self.Host
	var unix *transport.Peer
	cl.mu.Lock()
	restarted := m.instance != d.Instance && m.instance != ([16]byte{})
	needUnix := same && d.Unix != "" && n.cfg.Node.Route == RouteNearest && (m.unix == nil || restarted || m.unixPath != d.Unix)
	cl.mu.Unlock()
	if needUnix {
		unix = cl.reachUnix(ctx, m, d)
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if m.removed {
		if unix != nil {
			unix.Close()
		}
		return
	}
	if restarted {
		n.log.Info("peer restarted: a new instance", "peer_name", d.Name, "peer", m.address)
	}
	if needUnix && m.unix != nil {
		m.unix.Close()
		m.unix = nil
	}
	if unix != nil {
		m.unix = unix
	}
	// The route table is rebuilt only if what it is made of changed: a
	// heartbeat that brings nothing new costs no rebuild (at 1,000 peers
	// of 10 functions one costs about 5 ms, and every peer's heartbeat
	// would pay it).
	changed := restarted || m.state != StateUp || m.sameHost.Load() != same
	m.name, m.instance, m.host, m.hasHost, m.unixPath = d.Name, d.Instance, d.Host, d.HasHost, d.Unix
	if d.Generation >= m.gen || restarted {
		changed = changed || !slices.Equal(m.functions, d.Functions)
		m.gen, m.functions = d.Generation, d.Functions
	}
	m.sameHost.Store(same)
	if m.unix != nil {
		m.via.Store(m.unix)
	} else {
		m.via.Store(m.tcp)
	}
	wasUp := m.state == StateUp
	m.state, m.backoff, m.lastError = StateUp, 0, ""
	m.downUntil.Store(0)
	if !wasUp {
		n.log.Info("peer up", "peer_name", d.Name, "peer", m.address, "path", m.peer().Path().String(), "functions", len(d.Functions))
	}
	if changed {
		cl.rebuild()
	}
}

// reachUnix dials the unix socket a peer of this host named and returns a
// peer for it if the node that answers there is the one d describes.
func (cl *cluster) reachUnix(ctx context.Context, m *member, d *wire.Directory) *transport.Peer {
	n := cl.n
	if _, err := os.Stat(d.Unix); err != nil {
		n.log.Debug("cluster: a peer of this host has a unix socket this node cannot see; tcp it is", "peer_name", d.Name, "socket", d.Unix, "err", err)
		return nil
	}
	up, err := n.newPeer("unix://"+d.Unix, d.Name, cl.conf.Load().MaxConns, true)
	if err != nil {
		return nil
	}
	pctx, cancel := context.WithTimeout(ctx, n.cfg.Node.DialTimeout+n.cfg.Node.IOTimeout)
	ud, err := up.Exchange(pctx)
	cancel()
	switch {
	case err != nil:
		n.refusalLog.warn("peer/unix", "cluster: the unix socket of a peer of this host failed; tcp it is", "peer_name", d.Name, "socket", d.Unix, "err", err)
	case ud.Instance != d.Instance:
		n.refusalLog.warn("peer/unix-other", "cluster: the unix socket a peer named answers as another node; tcp it is", "peer_name", d.Name, "socket", d.Unix, "answered", ud.Name)
	default:
		return up
	}
	up.Close()
	return nil
}

// onDirectory is the servers' OnDirectory: a dialer said what it hosts
// (on connecting, or because its functions changed). A member of that
// instance takes the newer list; an unknown one makes discovery look
// again.
func (cl *cluster) onDirectory(remote string, d *wire.Directory) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	for _, m := range cl.members {
		if m.instance != d.Instance || m.static || m.state == StateSelf {
			continue
		}
		if d.Generation > m.gen {
			m.gen, m.functions = d.Generation, d.Functions
			cl.n.log.Info("peer's functions changed", "peer_name", d.Name, "generation", d.Generation, "functions", len(d.Functions))
			cl.rebuild()
		}
		return
	}
	if cl.stop != nil {
		cl.refresh()
	}
}

// setFunctions changes the function list this node announces and tells
// every peer that is up (each answers with its own, which refreshes it
// too). The reload of functions calls it.
func (cl *cluster) setFunctions(ctx context.Context, fns []string) {
	old := cl.self.Load()
	d := *old
	d.Functions = slices.Clone(fns)
	d.Generation = old.Generation + 1
	cl.self.Store(&d)
	cl.mu.Lock()
	var up []*member
	for _, m := range cl.members {
		if !m.static && m.state == StateUp {
			up = append(up, m)
		}
	}
	cl.mu.Unlock()
	var wg sync.WaitGroup
	for _, m := range up {
		wg.Go(func() { cl.probe(ctx, m) })
	}
	wg.Wait()
}

// instanceID is an instance id as the directory shows it.
func instanceID(id [16]byte) string {
	if id == ([16]byte{}) {
		return ""
	}
	return hex.EncodeToString(id[:])
}

// remoteLessLoaded is route: any's choice for a function this node hosts
// too: whether m, the replica picked for it, carries fewer transfers from
// this node now than the local function has instances busy.
func (n *Node) remoteLessLoaded(m *member, f *function) bool {
	st := f.fn.Stats()
	return m.eligible(time.Now().UnixNano()) && m.inFlight.Load() < int64(st.Live-st.Idle)
}

// ownAddrs returns the addresses of this node's interfaces if its tcp
// listener binds every one of them, or one of them, on port: DNS answers
// naming one are this node. Nil if the listener is on another port, or
// there is none.
func ownAddrs(listen string, port int) map[netip.Addr]bool {
	if listen == "" {
		return nil
	}
	ap, err := netip.ParseAddrPort(listen)
	if err != nil {
		host, p, err := net.SplitHostPort(listen)
		if err != nil || host != "" || p != fmt.Sprint(port) {
			return nil
		}
		ap = netip.AddrPortFrom(netip.IPv6Unspecified(), uint16(port))
	}
	if int(ap.Port()) != port {
		return nil
	}
	if !ap.Addr().IsUnspecified() {
		return map[netip.Addr]bool{ap.Addr().Unmap(): true}
	}
	own := map[netip.Addr]bool{}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			own[p.Addr().Unmap()] = true
		}
	}
	return own
}

// setStatic makes the static peers those of peers (a reload's): a peer
// whose address or max_conns changed is dialed anew, one whose functions
// changed keeps its connections, one gone is closed (transfers under way
// finish on their connections). The route table follows at once. It
// fails, changing nothing, if a new peer cannot be made.
func (cl *cluster) setStatic(peers []PeerConfig) error {
	n := cl.n
	cl.mu.Lock()
	defer cl.mu.Unlock()
	made := map[string]*member{}
	for _, pc := range peers {
		if m := cl.members["static/"+pc.Name]; m != nil && m.address == pc.Address && m.maxConns == pc.MaxConns {
			continue
		}
		tp, err := n.newPeer(pc.Address, pc.Name, pc.MaxConns, false)
		if err != nil {
			for _, m := range made {
				m.close()
			}
			return fmt.Errorf("peer %s: %w", pc.Name, err)
		}
		made[pc.Name] = staticMember(pc, tp)
	}
	keep := map[string]bool{}
	for _, pc := range peers {
		key := "static/" + pc.Name
		keep[key] = true
		if m := made[pc.Name]; m != nil {
			if old := cl.members[key]; old != nil {
				old.removed = true
				old.close()
			}
			cl.members[key] = m
			n.metrics.forPeer(pc.Name, m.tcp)
			continue
		}
		cl.members[key].functions = slices.Clone(pc.Functions)
	}
	for key, m := range cl.members {
		if m.static && !keep[key] {
			m.removed = true
			m.close()
			delete(cl.members, key)
			n.metrics.dropPeer(m.name)
			n.log.Info("peer removed", "peer_name", m.name, "peer", m.address)
		}
	}
	cl.rebuild()
	return nil
}

// staticMember is the member of a static peer.
func staticMember(pc PeerConfig, tp *transport.Peer) *member {
	m := &member{static: true, address: pc.Address, maxConns: pc.MaxConns, tcp: tp, name: pc.Name,
		functions: slices.Clone(pc.Functions), state: StateUp}
	m.via.Store(tp)
	m.sameHost.Store(tp.Path() == transport.PathUnix)
	return m
}
