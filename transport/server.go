package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/roadrunner-wasm/roadrunner/abi"
	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

// Defaults of [ServerOptions].
const (
	DefaultMaxConns    = 1024
	DefaultIdleTimeout = 10 * time.Minute
)

// Reasons a Server closes a connection, as [Refusal] and
// node's rr_frames_refused_total spell them.
const (
	RefusedBadFrame        = "bad_frame"        // a header, name or CRC that is not valid
	RefusedTruncated       = "truncated"        // the connection ended inside a frame
	RefusedTimeout         = "timeout"          // a frame stopped arriving for IOTimeout
	RefusedUnknownFunction = "unknown_function" // a valid frame for a name the node does not host
	RefusedUnread          = "refused"          // a valid frame the target refused before its payload was read
	RefusedMaxConns        = "max_conns"        // a connection over MaxConns
	RefusedAuth            = "auth"             // a peer that failed authentication: Refusal.Auth says how
	RefusedIO              = "io"               // any other error of the connection
)

// Refusal is a connection a Server closed because of what its peer sent
// (or because it was one too many, or its peer failed authentication), as
// [ServerOptions].OnRefused is told.
type Refusal struct {
	Path   Path
	Reason string // one of the Refused* reasons
	Remote string // the peer's address, or "unix-peer"
	At     string // where: "accept", "header", "hello", "name", "payload of NAME"
	Err    error  // what was wrong
	// Auth is the authentication failure's reason when Reason is
	// RefusedAuth: one of the Auth* reasons, AuthPeerCred for a unix peer
	// UnixAllow does not admit. Empty for other refusals.
	Auth string
}

// Errors of refusals that have no error of their own.
var (
	errMaxConns = errors.New("max_conns connections open already")
	errUnread   = errors.New("the target refused the frame before its payload was read")
)

// ServerOptions configure a [Server]. The zero value means the defaults.
type ServerOptions struct {
	// Limits bound the frames accepted, before anything is allocated for
	// them; MaxPayload should be the largest payload any target takes.
	Limits wire.Limits
	// MaxConns is the most connections served at once; one beyond it is
	// closed at once. Zero means DefaultMaxConns.
	MaxConns int
	// IOTimeout bounds how long a frame that has begun may make no
	// progress. Zero means DefaultIOTimeout.
	IOTimeout time.Duration
	// IdleTimeout closes a connection that carries no frame for this long.
	// Zero means DefaultIdleTimeout.
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
	conns   map[*serverConn]struct{}
	closing bool
	wg      sync.WaitGroup
}

// NewServer returns a Server that delivers to sink. path (PathUnix or
// PathTCP) is the path of its connections, in their deliveries' [Origin].
func NewServer(sink Sink, path Path, opts *ServerOptions) *Server {
	s := &Server{sink: sink, path: path, lns: map[net.Listener]struct{}{}, conns: map[*serverConn]struct{}{}}
	if opts != nil {
		s.opts = *opts
	}
	o := &s.opts
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.IOTimeout <= 0 {
		o.IOTimeout = DefaultIOTimeout
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
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			nc.Close()
			return nil
		}
		if len(s.conns) >= s.opts.MaxConns {
			s.mu.Unlock()
			s.refused(Refusal{Path: s.path, Reason: RefusedMaxConns, Remote: remote(nc), At: "accept", Err: errMaxConns})
			nc.Close()
			continue
		}
		c := s.newConn(nc)
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go c.serve()
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
