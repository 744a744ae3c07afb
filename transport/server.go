package transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/roadrunner-wasm/roadrunner/transport/features"
	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

// Defaults of [ServerOptions].
const (
	DefaultMaxConns    = 1024
	DefaultIdleTimeout = 10 * time.Minute
)

// Reasons a Server closes a connection, as [ServerOptions].OnRefused and
// node's rr_frames_refused_total spell them.
const (
	RefusedBadFrame        = "bad_frame"        // a header, name or CRC that is not valid
	RefusedTruncated       = "truncated"        // the connection ended inside a frame
	RefusedTimeout         = "timeout"          // a frame stopped arriving for IOTimeout
	RefusedUnknownFunction = "unknown_function" // a valid frame for a name the node does not host
	RefusedUnread          = "refused"          // a valid frame the target refused before its payload was read
	RefusedMaxConns        = "max_conns"        // a connection over MaxConns
	RefusedIO              = "io"               // any other error of the connection
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
	// Status turns the error of Sink.Deliver into the status of its ACK
	// (an ABI code: int32(runtime.CodeOf(err))). Nil sends 0 for nil and
	// -12 (internal) for any error.
	Status func(err error) int32
	// Logger receives the server's logs. Nil means slog.Default().
	Logger *slog.Logger
	// OnRefused, if not nil, is called for every connection closed because
	// of what its peer sent, with one of the Refused* reasons.
	OnRefused func(reason string)
	// IOURing receives payloads, and sends REPLYs, of RingMin bytes or
	// more through an io_uring of the connection's own (Linux 5.19): the
	// part of a payload not already read with its header is received
	// straight into the receiver's view with linked RECVs of RingChunk
	// bytes, RingDepth at a time. Headers, ACKs and smaller payloads go
	// with plain syscalls; headers are read through the Go runtime's
	// poller, so that an idle connection holds no thread. Where io_uring
	// is refused (see [ProbeIOURing]) plain syscalls serve, and every
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
	// Sockmap, if not nil, answers a dialer's HELLO from a node of this
	// host that shares the map by putting the connection's socket in it
	// (see [Sockmap]); every frame served over a connection whose dialer
	// asked for it and did not get it, for this process's refusal or
	// another map, is reported to OnFallback. A connection may begin
	// with a HELLO whether or not Sockmap is set: the Server answers it
	// with its host and no map.
	Sockmap *Sockmap
}

// Server receives frames on the unix or tcp path and delivers their
// payloads to a Sink: each payload is read from the socket straight into
// the view the Sink lends, then the frame is answered with an ACK. A
// Server is safe for concurrent use.
type Server struct {
	sink Sink
	path string
	opts ServerOptions
	log  *slog.Logger

	base   context.Context // of every delivery; canceled by a forced Close
	cancel context.CancelFunc

	mu      sync.Mutex
	lns     map[net.Listener]struct{}
	conns   map[*serverConn]struct{}
	closing bool
	wg      sync.WaitGroup
}

// NewServer returns a Server that delivers to sink. path (PathUnix or
// PathTCP) names the path in logs and in [ServerPath].
func NewServer(sink Sink, path string, opts *ServerOptions) *Server {
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
		o.Status = func(err error) int32 {
			if err == nil {
				return 0
			}
			return wire.MinStatus
		}
	}
	s.log = o.Logger
	if s.log == nil {
		s.log = slog.Default()
	}
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
				s.log.Warn("accept failed; retrying", "path", s.path, "err", err, "retry_in", backoff)
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
			s.log.Warn("connection refused: max_conns reached", "path", s.path, "peer", remote(nc), "max_conns", s.opts.MaxConns)
			s.refused(RefusedMaxConns)
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
func (s *Server) Path() string { return s.path }

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

func (s *Server) refused(reason string) {
	if s.opts.OnRefused != nil {
		s.opts.OnRefused(reason)
	}
}

func remote(nc net.Conn) string {
	if a := nc.RemoteAddr(); a != nil && a.String() != "" && a.String() != "@" {
		return a.String()
	}
	return "unix-peer"
}

// serverConn is one accepted connection.
type serverConn struct {
	s    *Server
	nc   net.Conn
	br   *bufio.Reader
	dr   deadlineReader
	ctx  context.Context // carries the connection: ReplyWriter, ServerPath
	peer string

	hdr  [wire.HeaderSize]byte
	name [wire.MaxNameLen]byte
	out  [wire.HeaderSize]byte
	iov  [2][]byte
	bufs net.Buffers

	lastStr string // the previous frame's target

	busy    bool // guarded by s.mu: a frame is being served
	h       wire.Header
	read    bool  // the current frame's payload has been read whole
	fillErr error // why reading the payload failed
	replied bool
	fill    func(dst []byte) error

	// ring is made on the first payload (or REPLY) large enough for it,
	// under s.mu (a forced Close reads it); nil until then, without
	// IOURing, or where refused: ringErr says why.
	ring    *connRing
	ringErr error

	sm sockmapConn // the connection's share of ServerOptions.Sockmap
}

// ringFor returns the connection's ring for a transfer of n bytes, making
// it on first use; nil if n is under RingMin, io_uring is off or refused,
// or the server is closing.
func (c *serverConn) ringFor(n int) *connRing {
	o := &c.s.opts
	if !o.IOURing || c.ringErr != nil || n < o.RingMin {
		return nil
	}
	if c.ring != nil {
		return c.ring
	}
	var raw syscall.RawConn
	var err error
	if sc, ok := c.nc.(syscall.Conn); !ok {
		err = fmt.Errorf("%T has no file descriptor", c.nc)
	} else if raw, err = sc.SyscallConn(); err == nil {
		var cr *connRing
		if cr, err = newConnRing(raw, false); err == nil {
			c.s.mu.Lock()
			defer c.s.mu.Unlock()
			if c.s.closing {
				cr.close()
				return nil
			}
			c.ring = cr
			return cr
		}
	}
	c.ringErr = fmt.Errorf("io_uring: %w", err)
	ringFellBack(o.OnFallback, c.ringErr)
	return nil
}

// serverReadBuffer is the read buffer of a connection: a header, a name and
// a small payload arrive in one read. A payload larger than it is read
// straight from the socket into the receiver's view.
const serverReadBuffer = 16 << 10

func (s *Server) newConn(nc net.Conn) *serverConn {
	c := &serverConn{s: s, nc: nc, peer: remote(nc)}
	c.dr = deadlineReader{nc: nc, timeout: s.opts.IOTimeout}
	c.br = bufio.NewReaderSize(&c.dr, serverReadBuffer)
	c.ctx = context.WithValue(s.base, serverConnKey{}, c)
	c.fill = c.fillPayload
	if s.opts.IOURing {
		c.ringErr = features.HaveIOURing()
	}
	return c
}

type serverConnKey struct{}

// ReplyWriter returns, inside a Sink.Deliver called by a Server, a writer
// that sends its one Write's bytes back to the frame's sender as a REPLY
// frame; nil if the frame's sender takes no reply, or if ctx does not come
// from a Server. A second Write fails.
func ReplyWriter(ctx context.Context) io.Writer {
	c, _ := ctx.Value(serverConnKey{}).(*serverConn)
	if c == nil || c.h.Flags&wire.FlagReply == 0 {
		return nil
	}
	return c
}

// ServerPath returns PathUnix or PathTCP inside a Sink.Deliver called by a
// Server, and "" for any other context.
func ServerPath(ctx context.Context) string {
	if c, _ := ctx.Value(serverConnKey{}).(*serverConn); c != nil {
		return c.s.path
	}
	return ""
}

var errReplied = errors.New("reply already sent for this frame")

// Write sends p as the REPLY of the frame being served.
func (c *serverConn) Write(p []byte) (int, error) {
	if c.replied {
		return 0, errReplied
	}
	c.replied = true
	h := wire.Header{Kind: wire.KindReply, PayloadLen: uint64(len(p)), ID: c.h.ID}
	h.Put(c.out[:])
	if err := c.writeFrame(c.out[:], p); err != nil {
		return 0, fmt.Errorf("reply to %s: %w", c.peer, err)
	}
	return len(p), nil
}

func (c *serverConn) writeFrame(head, payload []byte) error {
	if r := c.ringFor(len(payload)); r != nil {
		o := &c.s.opts
		return r.sendFrame(head, payload, o.RingChunk, o.RingDepth, o.IOTimeout)
	}
	c.nc.SetWriteDeadline(time.Now().Add(c.s.opts.IOTimeout))
	c.iov[0], c.iov[1] = head, payload
	c.bufs = c.iov[:]
	_, err := c.bufs.WriteTo(c.nc)
	c.iov[0], c.iov[1] = nil, nil
	return err
}

// fillPayload is the fill of every delivery: the payload read from the
// socket straight into dst, its CRC checked if it has one.
func (c *serverConn) fillPayload(dst []byte) error {
	c.dr.arm()
	var err error
	if r := c.ringFor(len(dst) - c.br.Buffered()); r != nil {
		err = c.fillRing(r, dst)
	} else {
		err = wire.ReadPayload(c.br, c.h, dst)
	}
	if err != nil {
		c.fillErr = err
		return err
	}
	c.read = true
	return nil
}

// fillRing is fillPayload through the connection's ring: what the read
// buffer holds of the payload, then the rest straight from the socket.
func (c *serverConn) fillRing(r *connRing, dst []byte) error {
	if uint64(len(dst)) != c.h.PayloadLen {
		return wire.CheckPayload(c.h, dst) // says the view is the wrong size
	}
	k, _ := c.br.Read(dst[:c.br.Buffered()]) // from the buffer only
	o := &c.s.opts
	if err := r.recv(dst[k:], o.RingChunk, o.RingDepth, o.IOTimeout); err != nil {
		return err
	}
	return wire.CheckPayload(c.h, dst)
}

func (c *serverConn) serve() {
	s := c.s
	defer func() {
		if c.ring != nil {
			c.ring.close()
		}
		c.nc.Close()
		c.sm.closed()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		s.wg.Done()
	}()
	for first := true; ; first = false {
		if !c.idle() {
			return
		}
		c.nc.SetReadDeadline(time.Now().Add(s.opts.IdleTimeout))
		c.dr.armed = false
		h, err := wire.ReadHeader(c.br, &c.hdr, s.opts.Limits)
		if err != nil {
			if err == io.EOF {
				s.log.Debug("connection closed by peer", "path", s.path, "peer", c.peer)
			} else if !c.closing() {
				c.refuse(err, "header")
			}
			return
		}
		if !c.start() {
			return
		}
		c.dr.arm()
		if h.Kind == wire.KindHello && first {
			if err := c.hello(h); err != nil {
				c.refuse(err, "hello")
				return
			}
			continue
		}
		if h.Kind != wire.KindData {
			c.refuse(&wire.FrameError{Field: "kind", Reason: h.Kind.String() + " where a DATA frame belongs"}, "header")
			return
		}
		name, err := wire.ReadName(c.br, h, c.name[:])
		if err != nil {
			c.refuse(err, "name")
			return
		}
		to := c.intern(name)
		if s.opts.IOURing && c.ringErr != nil {
			ringFellBack(s.opts.OnFallback, c.ringErr)
		}
		if c.sm.reason != "" {
			c.sm.fellBack(s.log, s.opts.OnFallback)
		}
		c.h, c.read, c.fillErr, c.replied = h, false, nil, false
		err = s.sink.Deliver(c.ctx, to, h.PayloadLen, c.fill)
		if c.fillErr != nil {
			// Nothing reached the guest: Deliver does not call rr_handle
			// after a failed fill.
			c.refuse(c.fillErr, "payload of "+to)
			return
		}
		status := s.opts.Status(err)
		if err != nil && status == 0 {
			status = wire.MinStatus
		}
		ack := wire.NewAck(h.ID, status)
		if !c.read {
			ack.Flags = wire.FlagClose
		}
		ack.Put(c.out[:])
		if werr := c.writeFrame(c.out[:], nil); werr != nil {
			s.log.Info("connection lost before the ACK", "path", s.path, "peer", c.peer, "function", to, "err", werr)
			return
		}
		if !c.read {
			// The payload is still in the socket: the stream cannot go
			// on. The ACK said why.
			reason := RefusedUnread
			if status == wire.StatusUnknownFunction {
				reason = RefusedUnknownFunction
			}
			s.log.Warn("connection closed: frame refused before its payload was read", "path", s.path, "peer", c.peer, "function", to, "payload_len", h.PayloadLen, "reason", reason, "err", err)
			s.refused(reason)
			return
		}
	}
}

// idle marks the connection idle; false if the server is closing.
func (c *serverConn) idle() bool {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.busy = false
	return !c.s.closing
}

// start marks the connection busy with a frame; false if the server is
// closing (the frame is dropped unanswered, as if the connection had been
// closed before it arrived).
func (c *serverConn) start() bool {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.busy = true
	return !c.s.closing
}

func (c *serverConn) closing() bool {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return c.s.closing
}

// refuse logs why the connection closes and counts it.
func (c *serverConn) refuse(err error, where string) {
	reason := RefusedIO
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		reason = RefusedTimeout
		if where == "header" && !c.dr.armed {
			// Idle for IdleTimeout between frames: not the peer's fault.
			c.s.log.Debug("idle connection closed", "path", c.s.path, "peer", c.peer)
			return
		}
	case errors.Is(err, io.ErrUnexpectedEOF):
		reason = RefusedTruncated
	case errors.Is(err, wire.ErrBadFrame):
		reason = RefusedBadFrame
	}
	if reason == RefusedIO && c.closing() {
		return
	}
	c.s.log.Warn("connection closed: "+reason, "path", c.s.path, "peer", c.peer, "at", where, "err", err)
	c.s.refused(reason)
}

// intern returns name as a string, reusing the previous frame's string
// when the target is the same, so that a stream of frames to one function
// does not allocate.
func (c *serverConn) intern(name []byte) string {
	if string(name) == c.lastStr {
		return c.lastStr
	}
	c.lastStr = string(name)
	return c.lastStr
}

// deadlineReader reads from a connection, pushing its read deadline forward
// as bytes arrive once armed: a frame must make progress every timeout, not
// finish within it.
type deadlineReader struct {
	nc      net.Conn
	timeout time.Duration
	armed   bool
	set     time.Time // when the deadline was last pushed
}

func (d *deadlineReader) arm() {
	d.armed = true
	d.set = time.Now()
	d.nc.SetReadDeadline(d.set.Add(d.timeout))
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	if d.armed {
		// Pushing the deadline costs a timer update: do it when an eighth
		// of the timeout has gone by, not on every read.
		if now := time.Now(); now.Sub(d.set) > d.timeout/8 {
			d.set = now
			d.nc.SetReadDeadline(now.Add(d.timeout))
		}
	}
	return d.nc.Read(p)
}
