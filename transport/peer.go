package transport

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

// Defaults of [DialOptions] and [ServerOptions].
const (
	DefaultChunkSize   = 1 << 20
	DefaultPeerConns   = 16
	DefaultDialTimeout = 5 * time.Second
	DefaultIOTimeout   = 30 * time.Second
	DefaultKeepAlive   = 15 * time.Second
)

// DialOptions configure a [Peer]. The zero value means the defaults.
type DialOptions struct {
	// Mechanism is how the tcp path sends payloads: MechanismAuto (the
	// zero value), MechanismWrite or MechanismSplice. The unix path always
	// uses writev.
	Mechanism Mechanism
	// ChunkSize is how many payload bytes one write system call is given
	// on the tcp path with MechanismWrite. Zero means DefaultChunkSize;
	// on the unix path zero means the whole payload in one writev.
	ChunkSize int
	// MaxConns is the most connections open to the peer at once: one
	// transfer at a time uses each. Zero means DefaultPeerConns.
	MaxConns int
	// DialTimeout bounds connecting. Zero means DefaultDialTimeout.
	DialTimeout time.Duration
	// IOTimeout bounds how long writing a frame may make no progress.
	// Waiting for the ACK is bounded by the context only: the receiver's
	// handler may take long. Zero means DefaultIOTimeout.
	IOTimeout time.Duration
	// KeepAlive is the TCP keep-alive period. Zero means DefaultKeepAlive.
	KeepAlive time.Duration
	// Verify puts the CRC32C of each payload in its frame ([wire.FlagCRC]); the
	// receiver checks it before the payload reaches its guest.
	Verify bool
	// MaxReply is the largest REPLY payload accepted. Zero means
	// [wire.DefaultMaxPayload].
	MaxReply uint64
	// Logger receives the peer's debug logs (connections, HELLO
	// outcomes). Nil means none. Everything an operator must know is
	// reported through the On* callbacks instead, for the caller to count
	// and log as it sees fit.
	Logger *slog.Logger
	// OnFallback, if not nil, is called for every transfer that was meant
	// to use a mechanism the system refused and used another: from
	// "splice" to "writev", from "iouring" or "sockmap" to "plain",
	// reason as [features.Reason] spells it (or one of the Sockmap*
	// reasons). The transport logs none of them.
	OnFallback func(from, to, reason string)
	// IOURing sends payloads of RingMin bytes or more, and receives
	// their ACKs, through an io_uring of the connection's own (Linux
	// 5.19): the header and the payload's first chunk in one SENDMSG, the
	// rest as linked SENDs of RingChunk bytes, RingDepth at a time, the
	// ACK's RECV linked after the last, one system call per batch.
	// Smaller payloads, measured faster that way, go with plain syscalls
	// on the same connection. Where io_uring is refused (see
	// [features.HaveIOURing]) the connection uses plain syscalls for everything,
	// and every transfer it makes is reported to OnFallback ("iouring"
	// to "plain"). Mechanism does not apply to a payload sent through
	// the ring.
	IOURing bool
	// RingChunk and RingDepth shape the linked sends. Zero means
	// DefaultRingChunk and DefaultRingDepth; RingDepth is at most 30.
	RingChunk, RingDepth int
	// RingMin is the smallest payload sent through the ring; smaller
	// ones go with plain syscalls on the same connection. Zero means
	// DefaultRingMin; 1 sends every non-empty payload through the ring.
	RingMin int
	// ZeroCopy sends payloads of ZeroCopyMin bytes or more with SEND_ZC
	// (Linux 6.0) on the tcp path with IOURing, and turns it off for a
	// connection whose zero-copy sends the kernel reports it copied
	// (loopback, veth, a NIC without the support), calling
	// OnZeroCopyCopied. Zero ZeroCopyMin means DefaultZeroCopyMin. A
	// connection whose socket is in the sockmap sends without it.
	ZeroCopy    bool
	ZeroCopyMin int
	// OnZeroCopyCopied, if not nil, is called once for each connection
	// whose zero-copy sends came back copied, when zero copy is turned
	// off for it.
	OnZeroCopyCopied func()
	// Sockmap, if not nil, makes every tcp connection begin with a HELLO
	// exchange (PROTOCOL.md): a connection to a node of this host that
	// shares the map puts its socket in it, and its messages skip TCP
	// (see [Sockmap]). Every transfer over a connection to this host
	// that does not use the map is reported to OnFallback ("sockmap" to
	// "plain", with this process's refusal or one of the Sockmap*
	// reasons). The unix path ignores it.
	Sockmap *Sockmap
	// TLS, if not nil, makes every tcp connection TLS 1.3, with this
	// node's certificate, and checks the listener's against the CA (see
	// [TLS]). crypto/tls writes the records in user space, where splice,
	// io_uring and the sockmap cannot apply: the connection writes with
	// plain calls, and every transfer that was meant to use one of them
	// (Mechanism splice, IOURing, a Sockmap not opportunistic) is reported
	// to OnFallback with the reason FallbackTLS. A listener that refuses
	// this node's certificate fails the first Send. The unix path ignores
	// it.
	TLS *TLS
	// Auth, if not nil, makes every connection, on either path, begin
	// with the authenticated HELLO exchange (PROTOCOL.md
	// "Authentication"): the peer must prove it holds one of Auth's keys
	// before this end proves it does and sends anything about itself. A
	// connection whose exchange fails is closed and its Send fails with
	// an *AuthError.
	Auth *Auth
	// Directory, if not nil, makes every connection begin with a HELLO
	// that says this node speaks the cluster directory (PROTOCOL.md
	// "Directory"), and is what [Peer.Exchange] sends: this node's name,
	// instance, host, unix socket and functions. A connection whose
	// listener says so too carries the chain's depth in its DATA frames
	// and, when asked (SendOptions.Hops), the receiver's hops back.
	Directory func() *wire.Directory
	// Trace makes every connection's HELLO say that this end can send a
	// trace context (wire.HelloTrace), and sends SendOptions.Trace on the
	// connections whose listener's HELLO says it takes one. A HELLO is
	// exchanged only with Auth, Directory or a Sockmap on the tcp path:
	// without one, no trace context is sent.
	Trace bool
	// SharedMemory asks for the shm path: on a unix connection whose
	// listener authenticated itself (Auth must be set) and offers it, a
	// payload of SharedMin bytes or more goes straight into the receiving
	// function's memory file, which the listener hands over SCM_RIGHTS
	// once per function and connection; this end checks that it is a
	// memfd sealed against shrinking before it maps it, and keeps the
	// mapping while a connection of the Peer uses it. A payload that
	// cannot take the path goes over the stream, and if it was large
	// enough is reported to OnFallback ("shm" to "plain", with one of the
	// Shm* reasons or the receiver's). This process can then read and
	// write the whole memory of the receiving function: see
	// docs/SECURITY.md.
	SharedMemory bool
	// SharedMin is the smallest payload the shm path carries; zero means
	// DefaultSharedMin.
	SharedMin int
	// MaxSharedMap is the largest file mapped for the shm path; a larger
	// one is refused (reason "map"). Zero means DefaultMaxSharedMap.
	MaxSharedMap int64
	// OnMechanism, if not nil, is called when the peer's send mechanism is
	// settled, with the reason: at the first connection for a fixed
	// mechanism or a virtual link, after sampling for MechanismAuto through
	// a physical NIC.
	OnMechanism func(mechanism Mechanism, why string)
}

// Peer sends payloads to one remote node over persistent connections,
// reused across transfers: one transfer at a time per connection, up to
// MaxConns connections. Each connection's send mechanism is chosen once,
// when it is dialed (sender.go). A Peer is safe for concurrent use.
type Peer struct {
	address string
	path    Path   // PathUnix or PathTCP
	addr    string // the socket path or host:port
	opts    DialOptions
	log     *slog.Logger
	dialer  net.Dialer
	auto    *autoChooser // nil unless tcp with MechanismAuto, without TLS
	tls     *tls.Config  // the tcp path's TLS, nil without
	asked   Mechanism    // opts.Mechanism as given (TLS makes it write)

	mu      sync.Mutex
	idle    []*clientConn
	live    int
	closed  bool
	waiters int           // sends waiting for a connection
	wake    chan struct{} // closed (and replaced) when a connection went idle or a slot freed, if waiters > 0

	announced sync.Once

	maps shmMaps // the receivers' memory files mapped for the shm path

	keepZeroCopy bool         // tests: do not turn zero copy off
	zcSends      atomic.Int64 // SEND_ZC requests notified
}

// Sent describes a transfer.
type Sent struct {
	// Landed is the time from Send's start until the last payload byte
	// was handed to the kernel, for a transfer the peer acknowledged with
	// status 0; zero otherwise.
	Landed time.Duration
	// Mechanism is what carried the payload (or tried to): MechanismWritev
	// on the unix path; MechanismWrite or MechanismSplice on the tcp path;
	// MechanismIOURing for a payload sent through the connection's ring;
	// MechanismShm for one copied into the receiver's memory file;
	// MechanismNone if the transfer failed before any of them took it.
	Mechanism Mechanism
}

// NewPeer returns a Peer for address: "unix:///absolute/path" or
// "tcp://host:port". It does not connect: the first Send does. Off Linux
// it fails with an error wrapping [ErrNotSupported].
func NewPeer(address string, opts *DialOptions) (*Peer, error) {
	path, addr, err := ParseAddress(address)
	if err != nil {
		return nil, err
	}
	if err := socketPaths(); err != nil {
		return nil, fmt.Errorf("peer %s: %w", address, err)
	}
	p := &Peer{address: address, path: path, addr: addr, wake: make(chan struct{})}
	if opts != nil {
		p.opts = *opts
	}
	o := &p.opts
	switch o.Mechanism {
	case MechanismAuto, MechanismWrite, MechanismSplice:
	default:
		return nil, fmt.Errorf("peer %s: mechanism %s: want auto, write or splice", address, o.Mechanism)
	}
	p.asked = o.Mechanism
	switch {
	case path == PathUnix:
		o.Mechanism = MechanismWritev
	case o.TLS != nil:
		p.tls = o.TLS.client()
		o.Mechanism = MechanismWrite
	}
	if o.ChunkSize <= 0 && path == PathTCP {
		o.ChunkSize = DefaultChunkSize
	}
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultPeerConns
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.IOTimeout <= 0 {
		o.IOTimeout = DefaultIOTimeout
	}
	if o.KeepAlive <= 0 {
		o.KeepAlive = DefaultKeepAlive
	}
	if o.MaxReply == 0 {
		o.MaxReply = wire.DefaultMaxPayload
	}
	if err := o.ringDefaults(); err != nil {
		return nil, fmt.Errorf("peer %s: %w", address, err)
	}
	if path == PathUnix {
		o.ZeroCopy = false
	}
	if o.SharedMin <= 0 {
		o.SharedMin = DefaultSharedMin
	}
	if o.MaxSharedMap <= 0 {
		o.MaxSharedMap = DefaultMaxSharedMap
	}
	p.log = logger(o.Logger).With("peer", address)
	p.dialer = net.Dialer{Timeout: o.DialTimeout, KeepAlive: o.KeepAlive}
	if o.Mechanism == MechanismAuto {
		p.auto = &autoChooser{}
	}
	return p, nil
}

// logger is l, or a logger that drops everything: a library logs only where
// it is told to.
func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// Path is PathUnix or PathTCP.
func (p *Peer) Path() Path { return p.path }

// Address is the address the Peer was made with.
func (p *Peer) Address() string { return p.address }

// Mechanism is what the peer's payloads are sent with now: MechanismWritev
// on the unix path; on the tcp path MechanismWrite, MechanismSplice, or
// MechanismAuto while it samples.
func (p *Peer) Mechanism() Mechanism {
	if p.auto != nil {
		if m, ok := p.auto.chosen(); ok {
			return m
		}
		return MechanismAuto
	}
	if p.opts.Mechanism == MechanismSplice && spliceRefused() != nil {
		return MechanismWrite
	}
	return p.opts.Mechanism
}

// Conns reports how many connections to the peer are open and how many of
// them are idle.
func (p *Peer) Conns() (open, idle int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.live, len(p.idle)
}

// Send sends payload as one DATA frame to the function named to on the peer
// and returns after the peer's ACK. payload may be a view of a guest's
// memory: Send reads it only until it returns, and the peer has received
// every byte of it by then, so the caller may overwrite it at once.
//
// If reply is not nil the frame says the sender takes a reply, and the
// remote function's reply, if it sends one, is written to reply in one
// Write call before Send returns.
//
// A non-zero ACK status is a *StatusError; every other error is a failure
// of the transport (the payload may or may not have reached the peer's
// function). Steady-state sends do not allocate.
func (p *Peer) Send(ctx context.Context, to string, payload []byte, reply io.Writer) (Sent, error) {
	return p.SendWith(ctx, to, payload, reply, nil)
}

// SendWith is Send with extras (nil means none): the chain's depth, and
// where the receiver's hops go.
func (p *Peer) SendWith(ctx context.Context, to string, payload []byte, reply io.Writer, o *SendOptions) (Sent, error) {
	if len(to) == 0 || len(to) > wire.MaxNameLen || !wire.ValidName([]byte(to)) {
		return Sent{Mechanism: MechanismNone}, fmt.Errorf("send to %q: not a function name", to)
	}
	if uint64(len(payload)) >= wire.MaxPayloadLimit {
		return Sent{Mechanism: MechanismNone}, fmt.Errorf("send: payload of %d bytes is not under 4 GiB", len(payload))
	}
	start := time.Now()
	c, err := p.get(ctx)
	if err != nil {
		return Sent{Mechanism: MechanismNone}, &notSent{err}
	}
	sent, err := c.send(ctx, to, payload, reply, o, start)
	if c.broken {
		p.discard(c)
		if !c.answered {
			// The peer may have gone away: the other idle connections
			// are likely dead too.
			p.dropIdle()
		}
	} else {
		p.put(c)
	}
	return sent, err
}

// get returns an idle live connection, or dials one if fewer than MaxConns
// are open, or waits for one.
func (p *Peer) get(ctx context.Context) (*clientConn, error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrPeerClosed
		}
		if n := len(p.idle); n > 0 {
			c := p.idle[n-1]
			p.idle[n-1] = nil
			p.idle = p.idle[:n-1]
			p.mu.Unlock()
			if c.alive() {
				return c, nil
			}
			p.discard(c)
			continue
		}
		if p.live < p.opts.MaxConns {
			p.live++
			p.mu.Unlock()
			c, err := p.dial(ctx)
			if err != nil {
				p.release()
				return nil, err
			}
			return c, nil
		}
		p.waiters++
		wake := p.wake
		p.mu.Unlock()
		select {
		case <-wake:
			p.mu.Lock()
			p.waiters--
			p.mu.Unlock()
		case <-ctx.Done():
			p.mu.Lock()
			p.waiters--
			p.mu.Unlock()
			return nil, fmt.Errorf("peer %s: all %d connections busy: %w", p.address, p.opts.MaxConns, context.Cause(ctx))
		}
	}
}

// dial connects, exchanges HELLOs where the connection begins with one,
// and chooses the connection's sender.
func (p *Peer) dial(ctx context.Context) (*clientConn, error) {
	sock, err := p.dialer.DialContext(ctx, p.path.String(), p.addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", p.address, err)
	}
	nc := sock
	if p.tls != nil {
		tc := tls.Client(sock, p.tls)
		tc.SetDeadline(helloDeadline(ctx, p.opts.DialTimeout))
		err := tc.HandshakeContext(ctx)
		tc.SetDeadline(time.Time{})
		if err != nil {
			sock.Close()
			return nil, fmt.Errorf("dial %s: %w", p.address, &AuthError{Reason: AuthTLS, Err: err})
		}
		nc = tc
	}
	c, err := newClientConn(p, nc, sock)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("dial %s: %w", p.address, err)
	}
	switch {
	case p.opts.Auth != nil:
		if err := c.authenticate(ctx); err != nil {
			c.close()
			return nil, fmt.Errorf("dial %s: %w", p.address, err)
		}
	case p.opts.Directory != nil, p.opts.Sockmap != nil && p.path == PathTCP && !c.tls:
		// The plain HELLO; over TLS its sockmapJoin counts a listener of
		// this host as one the map could have taken.
		if err := c.hello(ctx); err != nil {
			c.close()
			return nil, fmt.Errorf("dial %s: %w", p.address, err)
		}
	case p.opts.Sockmap != nil && c.tls:
		// Without the HELLO nothing says whether the listener is on this
		// host: every transfer counts as one the map could have taken.
		c.sm = sockmapConn{s: p.opts.Sockmap, reason: FallbackTLS}
	}
	c.shmJoin(c.theirs)
	p.log.Debug("connected", "local", nc.LocalAddr().String())
	if p.auto != nil {
		p.auto.classify(p, sock)
	}
	c.snd = p.newSender(c)
	p.announce()
	return c, nil
}

func (p *Peer) put(c *clientConn) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.discard(c)
		return
	}
	p.idle = append(p.idle, c)
	p.signalLocked()
	p.mu.Unlock()
}

// discard closes c and frees its slot.
func (p *Peer) discard(c *clientConn) {
	c.close()
	p.release()
}

func (p *Peer) release() {
	p.mu.Lock()
	p.live--
	p.signalLocked()
	p.mu.Unlock()
}

// signalLocked wakes every send waiting for a connection; they race for it
// and the losers wait again. It allocates only when some send waits.
func (p *Peer) signalLocked() {
	if p.waiters > 0 {
		close(p.wake)
		p.wake = make(chan struct{})
	}
}

// dropIdle closes every idle connection.
func (p *Peer) dropIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, c := range idle {
		p.discard(c)
	}
}

// Close closes the idle connections and makes Send fail with ErrPeerClosed;
// connections in use close when their transfer ends.
func (p *Peer) Close() error {
	p.mu.Lock()
	p.closed = true
	p.signalLocked()
	p.mu.Unlock()
	p.dropIdle()
	return nil
}
