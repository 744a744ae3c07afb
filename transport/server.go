package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/roadrunner-wasm/roadrunner/abi"
	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

// Defaults of [ServerOptions].
const (
	DefaultMaxConns            = 1024
	DefaultMaxConnsPerSource   = 128
	DefaultIdleTimeout         = 10 * time.Minute
	DefaultReadProgressTimeout = 5 * time.Second
	DefaultFirstFrameTimeout   = 10 * time.Second
)

// Reasons a Server closes a connection, as [Refusal] and
// node's rr_frames_refused_total spell them.
const (
	RefusedBadFrame          = "bad_frame"            // a header, name or CRC that is not valid
	RefusedTruncated         = "truncated"            // the connection ended inside a frame
	RefusedStalled           = "stalled"              // a frame (header, name, payload) that received nothing for ReadProgressTimeout
	RefusedSlowHeader        = "slow_header"          // a header, name and trace context not whole within IOTimeout of the header's first byte
	RefusedFirstFrame        = "first_frame_timeout"  // a first frame (or HELLO) whose header, name and trace context were not whole within FirstFrameTimeout of accept
	RefusedUnknownFunction   = "unknown_function"     // a valid frame for a name the node does not host
	RefusedUnread            = "refused"              // a valid frame the target refused before its payload was read
	RefusedMaxConns          = "max_conns"            // a connection over MaxConns, when none could be evicted for it
	RefusedMaxConnsPerSource = "max_conns_per_source" // a connection over its source's MaxConnsPerSource
	RefusedEvicted           = "evicted"              // an idle connection closed to make room for another source's
	RefusedAuth              = "auth"                 // a peer that failed authentication: Refusal.Auth says how
	RefusedIO                = "io"                   // any other error of the connection
	// RefusedTimeout is a write of the Server's own that made no progress
	// for IOTimeout before the frame was answered: the answer to a HELLO or
	// a DIRECTORY, the shm path's offer (a peer that does not read its
	// socket). A frame that stops arriving is RefusedStalled, RefusedSlowHeader
	// or RefusedFirstFrame; an ACK or a REPLY that cannot be written is
	// logged at debug level, not refused.
	RefusedTimeout = "timeout"
)

// Refusal is a connection a Server closed because of what its peer sent
// (or because it was one too many, or its peer failed authentication), as
// [ServerOptions].OnRefused is told.
type Refusal struct {
	Path   Path
	Reason string // one of the Refused* reasons
	Remote string // the peer's address, or "unix-peer"
	Source string // the peer's source, as Origin.Source spells it
	At     string // where: "accept", "header", "hello", "name", "payload of NAME", "idle" (evicted)
	Err    error  // what was wrong
	// Auth is the authentication failure's reason when Reason is
	// RefusedAuth: one of the Auth* reasons, AuthPeerCred for a unix peer
	// UnixAllow does not admit. Empty for other refusals.
	Auth string
}

// Errors of refusals that have no error of their own.
var (
	errMaxConns          = errors.New("max_conns connections open already, none of them evictable")
	errMaxConnsPerSource = errors.New("max_conns_per_source connections of this source open already")
	errUnread            = errors.New("the target refused the frame before its payload was read")
)

// ServerOptions configure a [Server]. The zero value means the defaults.
type ServerOptions struct {
	// Limits bound the frames accepted, before anything is allocated for
	// them; MaxPayload should be the largest payload any target takes.
	Limits wire.Limits
	// MaxConns is the most connections served at once. One beyond it
	// makes room by evicting an idle connection of the source that holds
	// the most, if the newcomer's source holds fewer even with it (so that
	// two sources cannot take turns evicting each other): the victim is
	// one that is not in the middle of a frame (no byte of a frame
	// received and unanswered), preferably one that never completed a
	// frame, else the longest idle, and is reported to OnRefused (Reason
	// RefusedEvicted). If there is none, the newcomer is closed at once
	// (Reason RefusedMaxConns). Zero means DefaultMaxConns.
	MaxConns int
	// MaxConnsPerSource is the most connections served at once for one
	// source (see Origin.Source: an IP address on the tcp path, a uid on
	// the unix path); one beyond it is closed at accept (Reason
	// RefusedMaxConnsPerSource). Zero means DefaultMaxConnsPerSource; it
	// is at most MaxConns.
	MaxConnsPerSource int
	// IOTimeout bounds the Server's writes (ACK, REPLY, HELLO) without
	// progress, and how long a frame's header, name and trace context may
	// take in all from the header's first byte (Reason RefusedSlowHeader):
	// a peer sending a byte now and then cannot hold a header open. Zero
	// means DefaultIOTimeout.
	IOTimeout time.Duration
	// ReadProgressTimeout bounds every read of a frame once its first
	// byte arrived (header, name, trace context, payload, a HELLO's or a
	// DIRECTORY's payload): at most this long may pass without a byte
	// arriving, else the frame is aborted, its Sink's fill fails, and the
	// connection is closed (Reason RefusedStalled). Through the io_uring
	// (IOURing), progress is a RingChunk-byte receive completing. Zero
	// means DefaultReadProgressTimeout.
	ReadProgressTimeout time.Duration
	// FirstFrameTimeout closes a connection whose first frame's header,
	// name and trace context (or, if the first frame is a HELLO, the
	// HELLO whole) have not arrived within this long of accept (Reason
	// RefusedFirstFrame). With Auth it does not apply: Auth's timeout
	// bounds the authenticated HELLO, the connection's first frame. Zero
	// means DefaultFirstFrameTimeout.
	FirstFrameTimeout time.Duration
	// IdleTimeout closes a connection that carries no frame for this long
	// after its last one, without a refusal (it is logged at debug
	// level). Zero means DefaultIdleTimeout.
	IdleTimeout time.Duration
	// Status turns the error of Sink.Deliver into the status of its ACK,
	// an ABI code. Nil means int32(abi.CodeOf(err)): 0 for nil, the code an
	// error carries (errors.Is(err, abi.TooLarge), say), internal for any
	// other.
	Status func(err error) int32
	// Logger receives the server's logs: debug lines, and a warning when
	// accepting fails and is retried. Nil means none.
	Logger *slog.Logger
	// OnRefused, if not nil, is called for every connection closed because
	// of what its peer sent, with one of the Refused* reasons.
	OnRefused func(Refusal)
	// IOURing receives payloads, and sends REPLYs, of RingMin bytes or
	// more through an io_uring of the connection's own (Linux 5.19): the
	// part of a payload not already read with its header is received
	// straight into the receiver's view with linked RECVs of RingChunk
	// bytes, RingDepth at a time. Headers, ACKs and smaller payloads go
	// with plain syscalls; headers are read through the Go runtime's
	// poller, so that an idle connection holds no thread. Where io_uring
	// is refused (see [features.HaveIOURing]) plain syscalls serve, and every
	// frame so served is reported to OnFallback ("iouring" to "plain").
	IOURing bool
	// RingChunk and RingDepth shape the linked receives. Zero means
	// DefaultRingChunk and DefaultRingDepth; RingDepth is at most 30.
	RingChunk, RingDepth int
	// RingMin is the fewest payload bytes left to receive (or REPLY
	// bytes to send) for which the ring is used; ACKs and smaller
	// payloads go with plain syscalls. Zero means DefaultRingMin.
	RingMin int
	// OnFallback, if not nil, is called as for [DialOptions].OnFallback.
	OnFallback func(from, to, reason string)
	// TLS, if not nil, makes every tcp connection TLS 1.3 with a client
	// certificate that chains to the CA (see [TLS]), handshaken within
	// DefaultAuthTimeout (the Auth's timeout if set) from accept; a
	// failed handshake is reported to OnRefused (Reason RefusedAuth, Auth
	// AuthTLS). io_uring and the sockmap cannot apply to its records: with
	// IOURing, or a Sockmap that is not opportunistic, every frame is
	// reported to OnFallback with the reason FallbackTLS. The unix path
	// ignores it.
	TLS *TLS
	// Auth, if not nil, requires every connection to begin with the
	// authenticated HELLO exchange (PROTOCOL.md "Authentication"),
	// within Auth's timeout from accept: nothing else is read, and
	// nothing about this node is sent, before the dialer has proven it
	// holds one of Auth's keys. A connection that fails is closed and
	// reported to OnRefused (Reason RefusedAuth, Auth the reason).
	Auth *Auth
	// Sockmap, if not nil, answers a dialer's HELLO from a node of this
	// host that shares the map by putting the connection's socket in it
	// (see [Sockmap]); every frame served over a connection whose dialer
	// asked for it and did not get it, for this process's refusal or
	// another map, is reported to OnFallback. A connection may begin
	// with a HELLO whether or not Sockmap is set: the Server answers it
	// with its host and no map.
	Sockmap *Sockmap
	// UnixAllow, if not nil, admits on the unix path only peers whose
	// process runs as one of UIDs or with one of GIDs as its group (the
	// credentials the kernel recorded at connect, SO_PEERCRED), checked
	// before anything is read; others are closed at once and reported to
	// OnRefused (Reason RefusedAuth, Auth "peer_cred", At "accept", Err
	// naming the peer's uid, gid and pid). It narrows what the socket's
	// mode lets in, never widens it. A connection that is not a unix
	// socket's ignores it. Needs Linux: see [UnixAllow].
	UnixAllow *UnixAllow
	// Directory, if not nil, makes the server's HELLO say it speaks the
	// cluster directory, and answers each DIRECTORY frame a dialer sends
	// with this node's (see [DialOptions].Directory). Without it a
	// DIRECTORY frame is a bad frame.
	Directory func() *wire.Directory
	// OnDirectory, if not nil, is given the directory of every dialer
	// that sends one (remote: the connection's address), on connecting
	// and whenever its functions change.
	OnDirectory func(remote string, d *wire.Directory)
	// Trace makes the server's HELLO say that it takes DATA frames with a
	// trace context (wire.HelloTrace), which the Sink finds in
	// Origin.Trace. Without it a frame with one is a bad frame.
	Trace bool
	// SharedMemory offers the shm path to dialers on the unix path that
	// authenticated themselves (Auth must be set) and whose Sink is a
	// SharedSink: a DATA frame that asks for it is answered with where
	// the payload goes in the receiving function's memory file, handed
	// over once per function and connection. The dialer's process can
	// then read and write the whole memory of that function: see
	// docs/SECURITY.md. A payload whose receiver has no such file comes
	// over the stream and is reported to OnFallback ("shm" to "plain").
	SharedMemory bool
}

// Server receives frames on the unix or tcp path and delivers their
// payloads to a Sink: each payload is read from the socket straight into
// the view the Sink lends, then the frame is answered with an ACK. A
// Server is safe for concurrent use.
type Server struct {
	sink Sink
	path Path
	opts ServerOptions
	log  *slog.Logger
	tls  *tls.Config // the tcp path's TLS, nil without

	base   context.Context // of every delivery; canceled by a forced Close
	cancel context.CancelFunc

	mu      sync.Mutex
	lns     map[net.Listener]struct{}
	conns   map[*serverConn]struct{} // until their goroutine ends, evicted ones too
	open    int                      // conns not evicted: what MaxConns bounds
	sources map[string]*source       // the conns not evicted, by source
	closing bool
	// idleSeq orders connections by when they last went idle (for
	// eviction, the longest idle first): a counter, not a clock read per
	// frame.
	idleSeq uint64
	wg      sync.WaitGroup
}

// source is the connections of one source that count against the limits.
type source struct {
	name  string
	conns map[*serverConn]struct{}
}

// NewServer returns a Server that delivers to sink. path (PathUnix or
// PathTCP) is the path of its connections, in their deliveries' [Origin].
func NewServer(sink Sink, path Path, opts *ServerOptions) *Server {
	s := &Server{sink: sink, path: path, lns: map[net.Listener]struct{}{}, conns: map[*serverConn]struct{}{}, sources: map[string]*source{}}
	if opts != nil {
		s.opts = *opts
	}
	o := &s.opts
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.MaxConnsPerSource <= 0 {
		o.MaxConnsPerSource = DefaultMaxConnsPerSource
	}
	o.MaxConnsPerSource = min(o.MaxConnsPerSource, o.MaxConns)
	if o.IOTimeout <= 0 {
		o.IOTimeout = DefaultIOTimeout
	}
	if o.ReadProgressTimeout <= 0 {
		o.ReadProgressTimeout = DefaultReadProgressTimeout
	}
	if o.FirstFrameTimeout <= 0 {
		o.FirstFrameTimeout = DefaultFirstFrameTimeout
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	// NewServer has no error to return: a bad depth is clamped.
	if ringShape(&o.RingChunk, &o.RingDepth) != nil {
		o.RingDepth = maxRingDepth
	}
	if o.RingMin <= 0 {
		o.RingMin = DefaultRingMin
	}
	if o.Status == nil {
		o.Status = func(err error) int32 { return int32(abi.CodeOf(err)) }
	}
	if o.TLS != nil && path == PathTCP {
		s.tls = o.TLS.server()
	}
	s.log = logger(o.Logger)
	s.base, s.cancel = context.WithCancel(context.Background())
	return s
}

// Serve accepts connections on ln and serves each on its own goroutine
// until Close, then returns nil. ln is closed when Serve returns.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.lns[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.lns, ln)
		s.mu.Unlock()
		ln.Close()
	}()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closing := s.closing
			s.mu.Unlock()
			if closing {
				return nil
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) || isTemporary(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed; retrying", "path", s.path.String(), "err", err, "retry_in", backoff)
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("accept on %s: %w", ln.Addr(), err)
		}
		backoff = 0
		if !s.admit(nc) {
			return nil
		}
	}
}

// admit starts serving nc, or closes it if it is over a limit; false if the
// server is closing. It reads the peer's credentials of a unix socket (one
// getsockopt) and otherwise blocks on nothing: an evicted connection is
// closed here, its goroutine sees that and ends.
func (s *Server) admit(nc net.Conn) bool {
	src, cred := sourceOf(nc)
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		nc.Close()
		return false
	}
	held := 0
	if sc := s.sources[src]; sc != nil {
		held = len(sc.conns)
	}
	var victim *serverConn
	switch {
	case held >= s.opts.MaxConnsPerSource:
		s.mu.Unlock()
		s.refused(Refusal{Path: s.path, Reason: RefusedMaxConnsPerSource, Remote: remote(nc), Source: src, At: "accept", Err: errMaxConnsPerSource})
		nc.Close()
		return true
	case s.open >= s.opts.MaxConns:
		if victim = s.victimLocked(held); victim == nil {
			s.mu.Unlock()
			s.refused(Refusal{Path: s.path, Reason: RefusedMaxConns, Remote: remote(nc), Source: src, At: "accept", Err: errMaxConns})
			nc.Close()
			return true
		}
		s.dropLocked(victim)
	}
	c := s.newConn(nc, src, cred)
	s.idleSeq++
	c.idleSince = s.idleSeq
	s.conns[c] = struct{}{}
	s.open++
	sc := s.sources[src]
	if sc == nil {
		sc = &source{name: src, conns: map[*serverConn]struct{}{}}
		s.sources[src] = sc
	}
	sc.conns[c] = struct{}{}
	c.src = sc
	s.wg.Add(1)
	s.mu.Unlock()
	if victim != nil {
		// The socket, not a TLS connection over it: its Close would
		// write an alert, and might wait.
		victim.sock.Close()
		s.refused(Refusal{Path: s.path, Reason: RefusedEvicted, Remote: victim.peer, Source: victim.origin.Source, At: "idle",
			Err: fmt.Errorf("evicted: max_conns connections open, %s holds the most, %s connected", victim.origin.Source, src)})
	}
	go c.serve()
	return true
}

// victimLocked picks the connection to evict for a newcomer whose source
// holds held connections: an evictable one (idle: not in the middle of a
// frame) of a source that holds the most, if that is more than held+1 —
// the newcomer's source then still holds fewer. It prefers a connection
// that never completed a frame, then the longest idle. It claims the one
// it returns (its phase becomes phaseEvicted); nil if there is none.
func (s *Server) victimLocked(held int) *serverConn {
	most := 0
	for _, sc := range s.sources {
		most = max(most, len(sc.conns))
	}
	if most <= held+1 {
		return nil
	}
	var best *serverConn
	for _, sc := range s.sources {
		if len(sc.conns) != most {
			continue
		}
		for c := range sc.conns {
			if c.phase.Load() != phaseIdle {
				continue
			}
			if best == nil || !c.framed && best.framed || c.framed == best.framed && c.idleSince < best.idleSince {
				best = c
			}
		}
	}
	// The connection may have received a frame's first byte since it was
	// looked at: it wins, and no other is tried (the next newcomer will).
	if best == nil || !best.phase.CompareAndSwap(phaseIdle, phaseEvicted) {
		return nil
	}
	return best
}

// dropLocked takes c out of the counts the limits apply to: it was evicted,
// or its goroutine ends.
func (s *Server) dropLocked(c *serverConn) {
	if c.src == nil {
		return
	}
	s.open--
	delete(c.src.conns, c)
	if len(c.src.conns) == 0 {
		delete(s.sources, c.src.name)
	}
	c.src = nil
}

// sourceOf names nc's source (Origin.Source): the peer's IP address on a tcp
// connection; on a unix one, the peer's uid as SO_PEERCRED reports it
// and pid ("uid:1000/pid:4242"; the uid alone when the pid is in a pid
// namespace this process does not see), "unix" where it cannot be read. It returns the credentials
// read, for UnixAllow.
func sourceOf(nc net.Conn) (string, *peerCredResult) {
	if isUnix(nc) {
		cred, err := readPeerCred(nc)
		if err != nil {
			return "unix", &peerCredResult{err: err}
		}
		src := "uid:" + strconv.FormatUint(uint64(cred.uid), 10)
		if cred.pid > 0 {
			// The process, where this process's pid namespace sees it:
			// nodes of one host run as one uid, each its own source.
			src += "/pid:" + strconv.FormatInt(int64(cred.pid), 10)
		}
		return src, &peerCredResult{cred: cred}
	}
	switch a := nc.RemoteAddr().(type) {
	case *net.TCPAddr:
		return a.AddrPort().Addr().Unmap().String(), nil
	case nil:
		return "", nil
	default:
		if ap, err := netip.ParseAddrPort(a.String()); err == nil {
			return ap.Addr().Unmap().String(), nil
		}
		return a.String(), nil
	}
}

// isTemporary reports accept errors that a server rides out: too many open
// files, a connection aborted before it was accepted.
func isTemporary(err error) bool {
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ECONNABORTED, syscall.ENOBUFS, syscall.ENOMEM} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

// Path is the path the Server was made for: PathUnix or PathTCP.
func (s *Server) Path() Path { return s.path }

// Conns is the number of connections being served.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Close stops accepting, closes idle connections, and waits until the
// frames in flight have been answered, or until ctx ends: then it closes
// every connection (a payload still being read fails, and no guest sees
// it) and returns ctx's error.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for ln := range s.lns {
		ln.Close()
	}
	for c := range s.conns {
		if !c.busy {
			c.nc.Close()
		}
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.cancel()
		s.mu.Lock()
		n := len(s.conns)
		for c := range s.conns {
			if c.ring != nil {
				// The ring's requests do not end when the socket is
				// closed; shut down, it ends them.
				c.ring.abort()
			}
			c.nc.Close()
		}
		s.mu.Unlock()
		<-done
		return fmt.Errorf("transport server: %d connections closed mid-frame: %w", n, ctx.Err())
	}
}

func (s *Server) refused(r Refusal) {
	if s.opts.OnRefused != nil {
		s.opts.OnRefused(r)
	}
}

func remote(nc net.Conn) string {
	if a := nc.RemoteAddr(); a != nil && a.String() != "" && a.String() != "@" {
		return a.String()
	}
	return "unix-peer"
}
