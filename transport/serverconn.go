package transport

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/roadrunner-wasm/roadrunner/abi"
	"github.com/roadrunner-wasm/roadrunner/transport/features"
	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

// serverConn is one accepted connection.
type serverConn struct {
	s    *Server
	nc   net.Conn
	sock net.Conn // the socket: nc, or what the TLS connection nc runs over
	br   *bufio.Reader
	dr   deadlineReader
	peer string

	accepted time.Time
	cred     *peerCredResult // a unix peer's credentials, read at accept; nil on tcp

	// phase says whether the connection may be evicted: phaseIdle between
	// frames (and before the first), phaseFrame from a frame's first byte
	// until it is answered. The accept loop claims an idle one, under
	// s.mu, by making it phaseEvicted; the connection moves on to a frame
	// only if it is still phaseIdle.
	phase     atomic.Uint32
	src       *source // guarded by s.mu: its source's entry, nil once out of the counts
	framed    bool    // guarded by s.mu: a frame (or the authenticated HELLO) was completed
	idleSince uint64  // guarded by s.mu: Server.idleSeq when the last frame was answered (or accept)

	hdr   [wire.HeaderSize]byte
	name  [wire.MaxNameLen]byte
	trace [wire.TraceContextSize]byte
	out   [wire.HeaderSize]byte
	iov   [2][]byte
	bufs  net.Buffers

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

	sm  sockmapConn // the connection's share of ServerOptions.Sockmap
	tls *tls.Conn   // nc, when the connection is TLS; nil otherwise

	origin Origin // of the frame being served; Reply and Mechanism per frame

	hops    []byte // the HOPS frame of the frame being served, sent with its ACK
	hopsSet bool

	shm shmState // the shm path on this connection
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

// Phases of a serverConn.
const (
	phaseIdle uint32 = iota
	phaseFrame
	phaseEvicted
)

func (s *Server) newConn(nc net.Conn, src string, cred *peerCredResult) *serverConn {
	now := time.Now()
	c := &serverConn{s: s, nc: nc, sock: nc, peer: remote(nc), accepted: now, cred: cred}
	if s.tls != nil {
		c.tls = tls.Server(nc, s.tls)
		c.nc = c.tls
		if sm := s.opts.Sockmap; sm != nil && !sm.opp && s.opts.Auth == nil {
			// Without the HELLO, nothing says whether the dialer is on
			// this host: every frame counts. With it, sockmapAnswer
			// decides.
			c.sm = sockmapConn{s: sm, reason: FallbackTLS}
		}
	}
	nc = c.nc
	c.dr = deadlineReader{nc: nc, progress: s.opts.ReadProgressTimeout}
	c.br = bufio.NewReaderSize(&c.dr, serverReadBuffer)
	c.origin = Origin{Path: s.path, Remote: c.peer, Source: src}
	c.fill = c.fillPayload
	if s.opts.IOURing {
		c.ringErr = features.HaveIOURing()
		if c.tls != nil {
			c.ringErr = errTLS
		}
	}
	return c
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
		c.origin.Mechanism = MechanismIOURing
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
	if err := r.recv(dst[k:], o.RingChunk, o.RingDepth, o.ReadProgressTimeout); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			c.dr.expired = expStalled
		}
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
		s.dropLocked(c)
		s.mu.Unlock()
		s.wg.Done()
	}()
	// The TLS handshake and the HELLO share one bound from accept.
	timeout := DefaultAuthTimeout
	if s.opts.Auth != nil {
		timeout = s.opts.Auth.timeout
	}
	deadline := time.Now().Add(timeout)
	if !c.admitted() || !c.handshake(deadline) {
		return
	}
	first := true
	if s.opts.Auth != nil {
		if !c.authenticate(deadline) {
			return
		}
		first = false // the exchange is over: another HELLO is a bad frame
	}
	for ; ; first = false {
		if !c.idle(!first) {
			return
		}
		if !c.frameBegins(first) {
			return
		}
		h, err := wire.ReadHeader(c.br, &c.hdr, s.opts.Limits)
		if err != nil {
			if !c.closing() {
				c.refuse(err, "header")
			}
			return
		}
		if !c.start() {
			return
		}
		if h.Kind == wire.KindHello && first {
			// The first frame's bound covers the HELLO's payload too.
			if err := c.hello(h); err != nil {
				c.refuse(err, "hello")
				return
			}
			continue
		}
		if h.Kind == wire.KindDirectory {
			c.dr.headerDone()
			if err := c.directory(h); err != nil {
				c.refuse(err, "directory")
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
		if h.Flags&wire.FlagTrace != 0 && !s.opts.Trace {
			c.refuse(&wire.FrameError{Field: "flags", Reason: "trace flag on a connection whose HELLO did not offer it"}, "header")
			return
		}
		tc, err := wire.ReadTraceContext(c.br, h, &c.trace)
		if err != nil {
			c.refuse(err, "trace context")
			return
		}
		c.dr.headerDone()
		to := c.intern(name)
		if s.opts.IOURing && c.ringErr != nil {
			ringFellBack(s.opts.OnFallback, c.ringErr)
		}
		if c.sm.reason != "" && !c.sm.s.opp && s.opts.OnFallback != nil {
			s.opts.OnFallback(AccelSockmap.String(), "plain", c.sm.reason)
		}
		c.h, c.read, c.fillErr, c.replied = h, false, nil, false
		c.origin.Reply, c.origin.Mechanism, c.origin.Hops = nil, MechanismRead, nil
		c.hopsSet = false
		c.origin.Depth = uint32(h.Status)
		c.origin.Trace = tc
		if h.Flags&wire.FlagReply != 0 {
			c.origin.Reply = c
		}
		if h.Flags&wire.FlagHops != 0 {
			c.origin.Hops = hopsWriter{c}
		}
		fill := c.fill
		if h.Flags&wire.FlagShm != 0 {
			if !c.shm.on {
				c.refuse(&wire.FrameError{Field: "flags", Reason: "shm flag on a connection that did not offer the shm path"}, "header")
				return
			}
			// No payload follows unless fillShm asks for it: a frame
			// refused before fill leaves the stream clean.
			c.read = true
			c.shmLookup(to)
			fill = c.fillShm
		}
		err = s.sink.Deliver(s.base, &c.origin, to, h.PayloadLen, fill)
		if c.fillErr != nil {
			// Nothing reached the guest: Deliver does not call rr_handle
			// after a failed fill.
			c.refuse(c.fillErr, "payload of "+to)
			return
		}
		status := s.opts.Status(err)
		if err != nil && status == 0 {
			status = int32(abi.Internal)
		}
		ack := wire.NewAck(h.ID, status)
		if !c.read {
			ack.Flags = wire.FlagClose
		}
		ack.Put(c.out[:])
		if werr := c.writeAck(); werr != nil {
			s.log.Debug("connection lost before the ACK", "path", s.path.String(), "peer", c.peer, "function", to, "err", werr)
			return
		}
		if !c.read {
			// The payload is still in the socket: the stream cannot go
			// on. The ACK said why.
			reason := RefusedUnread
			if status == int32(abi.UnknownFunction) {
				reason = RefusedUnknownFunction
			}
			if err == nil {
				err = errUnread
			}
			s.refused(Refusal{Path: s.path, Reason: reason, Remote: c.peer, At: "payload of " + to, Err: err})
			return
		}
	}
}

// frameBegins waits for the first byte of the next frame, if the read buffer
// holds none, as long as the connection may stay idle: until
// FirstFrameTimeout from accept before the first frame, IdleTimeout
// otherwise. Then it bounds the frame's reads: its header, name and trace
// context must be whole within IOTimeout (and the first frame's within
// FirstFrameTimeout of accept), and each read must make progress within
// ReadProgressTimeout. It returns false if the connection closes
// (reported), or was evicted.
func (c *serverConn) frameBegins(first bool) bool {
	s := c.s
	o := &s.opts
	if c.br.Buffered() == 0 {
		if first {
			c.dr.wait(c.accepted.Add(o.FirstFrameTimeout), expFirst)
		} else {
			c.dr.wait(time.Now().Add(o.IdleTimeout), expIdle)
		}
		if _, err := c.br.Peek(1); err != nil {
			if err == io.EOF {
				s.log.Debug("connection closed by peer", "path", s.path.String(), "peer", c.peer)
			} else if !c.closing() {
				c.refuse(err, "header")
			}
			return false
		}
	}
	if !c.phase.CompareAndSwap(phaseIdle, phaseFrame) {
		return false // evicted: the evicting side reported it
	}
	hard, why := time.Now().Add(o.IOTimeout), expSlowHeader
	if first {
		if f := c.accepted.Add(o.FirstFrameTimeout); f.Before(hard) {
			hard, why = f, expFirst
		}
	}
	c.dr.begin(hard, why)
	return true
}

// handshake runs the TLS handshake of a TLS connection by deadline, and
// reports a failure to OnRefused (Reason RefusedAuth, Auth AuthTLS). It
// returns true at once for a connection without TLS.
func (c *serverConn) handshake(deadline time.Time) bool {
	if c.tls == nil {
		return true
	}
	c.nc.SetDeadline(deadline)
	err := c.tls.Handshake()
	c.nc.SetDeadline(time.Time{})
	if err != nil {
		if !c.gone() {
			c.s.refused(Refusal{Path: c.s.path, Reason: RefusedAuth, Auth: AuthTLS, Remote: c.peer, Source: c.origin.Source, At: "tls handshake", Err: err})
		}
		return false
	}
	return true
}

// authenticate runs the listener's side of the authenticated HELLO, the
// connection's first bytes (after TLS's), read exactly (nothing past the
// dialer's proof leaves the socket) by deadline. It reports a failure to
// OnRefused and returns false.
func (c *serverConn) authenticate(deadline time.Time) bool {
	a := c.s.opts.Auth
	c.nc.SetDeadline(deadline)
	_, err := a.accept(c.nc, c.sockmapAnswer)
	if err != nil {
		if c.gone() {
			return false
		}
		reason := authReason(err)
		c.s.refused(Refusal{Path: c.s.path, Reason: RefusedAuth, Auth: reason, Remote: c.peer, Source: c.origin.Source, At: "hello", Err: err})
		return false
	}
	c.nc.SetDeadline(time.Time{})
	return true
}

// idle marks the connection idle, framed if it has completed a frame (or
// the authenticated HELLO); false if the server is closing or the
// connection was evicted.
func (c *serverConn) idle(framed bool) bool {
	c.phase.CompareAndSwap(phaseFrame, phaseIdle)
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.busy = false
	if framed {
		c.framed = true
		c.s.idleSeq++
		c.idleSince = c.s.idleSeq
	}
	return !c.s.closing && c.phase.Load() != phaseEvicted
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

// gone reports whether the connection was closed from outside: the server
// is closing, or evicted it.
func (c *serverConn) gone() bool {
	return c.phase.Load() == phaseEvicted || c.closing()
}

// refuse logs why the connection closes and counts it.
func (c *serverConn) refuse(err error, where string) {
	if c.phase.Load() == phaseEvicted {
		return // reported when it was evicted
	}
	reason := RefusedIO
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		switch c.dr.expired {
		case expIdle:
			// Idle for IdleTimeout between frames: not the peer's fault.
			c.s.log.Debug("idle connection closed", "path", c.s.path.String(), "peer", c.peer)
			return
		case expFirst:
			reason = RefusedFirstFrame
		case expSlowHeader:
			reason = RefusedSlowHeader
		case expStalled:
			reason = RefusedStalled
		default:
			reason = RefusedTimeout // a write of ours
		}
	case errors.Is(err, io.ErrUnexpectedEOF):
		reason = RefusedTruncated
	case errors.Is(err, wire.ErrBadFrame):
		reason = RefusedBadFrame
	}
	if reason == RefusedIO && c.closing() {
		return
	}
	c.s.refused(Refusal{Path: c.s.path, Reason: reason, Remote: c.peer, Source: c.origin.Source, At: where, Err: err})
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

// expiry is what a read deadline of a connection bounds.
type expiry uint8

const (
	expNone       expiry = iota
	expIdle              // the wait for a frame after the last: IdleTimeout
	expFirst             // the first frame: FirstFrameTimeout from accept
	expSlowHeader        // a header, name and trace context: IOTimeout from its first byte
	expStalled           // a frame's progress: ReadProgressTimeout without a byte
)

// deadlineReader reads from a connection, pushing its read deadline forward
// as bytes arrive once a frame began: a frame must make progress every
// ReadProgressTimeout, not finish within it; while its header is read, the
// deadline is never later than the header's own bound.
type deadlineReader struct {
	nc       net.Conn
	progress time.Duration
	armed    bool      // a frame is being read: push the deadline
	set      time.Time // when the deadline was last pushed; zero: at the next read
	hard     time.Time // the header's bound while it is read; zero otherwise
	hardWhy  expiry    // what hard is
	cur      expiry    // what the deadline now set is
	expired  expiry    // what the deadline that ended a read was; expNone if none
}

// wait sets the deadline of the wait for a frame's first byte.
func (d *deadlineReader) wait(deadline time.Time, why expiry) {
	d.armed, d.cur, d.expired = false, why, expNone
	d.nc.SetReadDeadline(deadline)
}

// begin arms the reader for a frame whose header must be whole by hard.
// The deadline is set by the first read that needs the socket: a frame
// the read buffer holds whole costs no timer update.
func (d *deadlineReader) begin(hard time.Time, why expiry) {
	d.armed, d.expired = true, expNone
	d.hard, d.hardWhy = hard, why
	d.set = time.Time{}
}

// headerDone lifts the header's bound: the frame's header, name and trace
// context are whole.
func (d *deadlineReader) headerDone() {
	d.hard = time.Time{}
	if d.cur != expStalled {
		d.set = time.Time{} // the deadline now set is the header's
	}
}

// arm starts the progress timer afresh, for a payload: the time the Sink
// took before it called fill is not the peer's.
func (d *deadlineReader) arm() {
	d.armed = true
	d.hard = time.Time{}
	d.set = time.Time{}
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	if d.armed {
		// Pushing the deadline costs a timer update: do it when an eighth
		// of the timeout has gone by, not on every read.
		if now := time.Now(); now.Sub(d.set) > d.progress/8 {
			d.set = now
			dl, why := now.Add(d.progress), expStalled
			if !d.hard.IsZero() && d.hard.Before(dl) {
				dl, why = d.hard, d.hardWhy
			}
			d.cur = why
			d.nc.SetReadDeadline(dl)
		}
	}
	n, err := d.nc.Read(p)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		d.expired = d.cur
	}
	return n, err
}
