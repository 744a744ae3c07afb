package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

// clientConn is one connection of a Peer: it carries one transfer at a time,
// with the sender chosen for it when it was dialed.
type clientConn struct {
	p   *Peer
	nc  net.Conn
	raw syscall.RawConn
	snd sender

	nextID  uint64
	out     [wire.HeaderSize + wire.MaxNameLen + wire.TraceContextSize]byte // header, name and trace context of the frame being sent
	in      [wire.HeaderSize]byte
	reply   []byte   // REPLY payloads land here, reused
	hopsBuf []byte   // HOPS payloads land here, reused
	t       transfer // the transfer being carried

	abortFn func() // c.abort, bound once
	peek    peeker // alive's state

	sm  sockmapConn // the connection's share of DialOptions.Sockmap
	tls bool        // nc is a TLS connection over the socket raw reaches

	dir   bool // the listener speaks the cluster directory (its HELLO said so)
	trace bool // the listener takes a trace context (its HELLO said so), and DialOptions.Trace

	broken   bool // the connection is unusable: close it
	answered bool // the peer answered the last frame (ACK read)

	theirs *wire.Hello // the listener's last HELLO; nil if none
	shm    shmConn     // the shm path on this connection
}

// transfer is one frame's journey: what a sender needs and what it reports.
type transfer struct {
	h       wire.Header
	head    []byte // the header and the name, encoded
	payload []byte // a view of the sender's memory
	reply   io.Writer
	hops    io.Writer
	start   time.Time

	landed time.Duration // set when the payload was handed to the kernel whole
	mech   Mechanism     // what carried the payload
}

// newClientConn makes the connection nc over the socket sock: nc itself,
// or the TLS connection over it.
func newClientConn(p *Peer, nc, sock net.Conn) (*clientConn, error) {
	sc, ok := sock.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("%T has no file descriptor", sock)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	c := &clientConn{p: p, nc: nc, raw: raw, tls: nc != sock}
	c.abortFn = c.abort
	c.peek.init(raw)
	return c, nil
}

// authenticate runs the dialer's side of the authenticated HELLO, within
// the Auth's timeout or ctx's deadline, and joins the sockmap if the
// listener's last HELLO allows it.
func (c *clientConn) authenticate(ctx context.Context) error {
	a := c.p.opts.Auth
	c.nc.SetDeadline(helloDeadline(ctx, a.timeout))
	defer c.nc.SetDeadline(time.Time{})
	mine := c.myHello()
	theirs, err := a.authenticate(c.nc, mine)
	if err != nil {
		return err // an *AuthError, or the connection's failure
	}
	c.sockmapJoin(&mine, &theirs)
	c.dir = theirs.Directory >= wire.DirectoryVersion
	c.trace = c.p.opts.Trace && theirs.Trace >= wire.TraceVersion
	c.theirs = &theirs
	return nil
}

func (c *clientConn) close() {
	if c.snd != nil {
		c.snd.close()
	}
	c.shmRelease()
	c.nc.Close()
	c.sm.closed()
}

// alive reports whether an idle connection is still open: a peer that
// stopped or restarted has closed it, and reading it without waiting shows
// that (EOF or an error) instead of a transfer failing on it.
func (c *clientConn) alive() bool { return c.peek.alive() }

// abort makes the connection's pending and future I/O fail at once: a
// send's context ended.
func (c *clientConn) abort() {
	c.nc.SetDeadline(aLongTimeAgo)
	c.snd.abort()
}

// aLongTimeAgo is a deadline in the past: it makes pending I/O fail at once.
var aLongTimeAgo = time.Unix(1, 0)

// send sends one DATA frame with the connection's sender and reads its
// answer.
func (c *clientConn) send(ctx context.Context, to string, payload []byte, reply io.Writer, o *SendOptions, start time.Time) (Sent, error) {
	c.answered = false
	if err := context.Cause(ctx); err != nil {
		return Sent{Mechanism: MechanismNone}, err
	}
	if ctx.Done() != nil {
		// AfterFunc allocates its registration (2 allocations); the
		// callback is bound once per connection.
		stop := context.AfterFunc(ctx, c.abortFn)
		defer func() {
			if !stop() && ctx.Err() != nil {
				// abort ran, or runs now: the connection must not
				// carry another transfer.
				c.broken = true
			}
		}()
	}
	c.nextID++
	h := wire.Header{Kind: wire.KindData, NameLen: uint16(len(to)), PayloadLen: uint64(len(payload)), ID: c.nextID}
	if c.p.opts.Verify {
		h.Flags |= wire.FlagCRC
		h.CRC = wire.Checksum(payload)
	}
	if reply != nil {
		h.Flags |= wire.FlagReply
	}
	var hops io.Writer
	if o != nil && c.dir {
		h.Status = int32(min(o.Depth, wire.MaxDepth))
		if o.Hops != nil {
			h.Flags |= wire.FlagHops
			hops = o.Hops
		}
	}
	// The head is the header, the name and the trace context: every
	// sender writes it whole before the payload.
	n := wire.HeaderSize + copy(c.out[wire.HeaderSize:], to)
	if o != nil && c.trace && o.Trace.Valid() {
		h.Flags |= wire.FlagTrace
		o.Trace.Put(c.out[n:])
		n += wire.TraceContextSize
	}
	h.Put(c.out[:])
	t := &c.t
	*t = transfer{h: h, head: c.out[:n], payload: payload, reply: reply, hops: hops, start: start, mech: MechanismNone}
	var err error
	if c.shmUse(to, len(payload)) {
		err = c.sendShm(ctx, t)
	} else {
		err = c.snd.send(ctx, c, t)
	}
	sent := Sent{Landed: t.landed, Mechanism: t.mech}
	if err != nil {
		sent.Landed = 0
	}
	*t = transfer{} // no reference to the sender's memory past the transfer
	return sent, err
}

// written reads the answer to a frame whose sending ended with werr, and
// makes the transfer's result.
func (c *clientConn) written(ctx context.Context, t *transfer, werr error) error {
	if werr == nil {
		t.landed = max(time.Since(t.start), 1)
	}
	if werr != nil && ctx.Err() != nil {
		c.broken = true
		return c.failure(ctx, "send", werr)
	}
	return c.answer(ctx, t, werr, false)
}

// answer reads the answer to the frame t.h after its sending ended with werr
// (have: its header is in c.in already) and makes send's result.
func (c *clientConn) answer(ctx context.Context, t *transfer, werr error, have bool) error {
	status, err := c.readAnswer(ctx, t, werr != nil, have)
	switch {
	case err != nil:
		c.broken = true
		if werr != nil {
			return c.failure(ctx, "send", werr)
		}
		return c.failure(ctx, "read answer", err)
	case werr != nil:
		// The peer refused the frame before reading all of it and said
		// why in an ACK, then closed.
		c.broken = true
		if status == 0 {
			return c.failure(ctx, "send", werr)
		}
	}
	if status != 0 {
		return &StatusError{Status: status}
	}
	return nil
}

// failure wraps an I/O error of the transfer, naming the context's cause
// if that is why it failed.
func (c *clientConn) failure(ctx context.Context, op string, err error) error {
	addr := c.p.address
	if cause := context.Cause(ctx); cause != nil {
		return fmt.Errorf("%s %s: %w", op, addr, cause)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// The context's deadline, set on the socket, may fire before the
		// context's own timer.
		if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
			return fmt.Errorf("%s %s: %w", op, addr, context.DeadlineExceeded)
		}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return fmt.Errorf("%s %s: %w: %w", op, addr, ErrConnClosed, err)
	}
	return fmt.Errorf("%s %s: %w", op, addr, err)
}

// arm sets the write deadline for the next IOTimeout of progress (or the
// context's deadline if sooner) and reports the context's end, which
// replacing the deadline would otherwise hide.
func (c *clientConn) arm(ctx context.Context) error {
	dl := time.Now().Add(c.p.opts.IOTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	c.nc.SetWriteDeadline(dl)
	return context.Cause(ctx)
}

// readAnswer reads the REPLY the frame may get and its ACK. After a failed
// write (afterWriteErr) the peer may still have answered, with an ACK that
// says why it refused the frame: that is looked for briefly. have says the
// first header is in c.in already.
func (c *clientConn) readAnswer(ctx context.Context, t *transfer, afterWriteErr, have bool) (int32, error) {
	sent, reply := t.h, t.reply
	if afterWriteErr {
		c.nc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	} else if d, ok := ctx.Deadline(); ok {
		c.nc.SetReadDeadline(d)
	} else {
		c.nc.SetReadDeadline(time.Time{})
	}
	// A cancellation before this point set a deadline the line above
	// replaced; one after it sets the deadline again.
	if err := context.Cause(ctx); err != nil {
		return 0, err
	}
	lim := wire.Limits{MaxPayload: c.p.opts.MaxReply}
	replied, hopped := false, false
	for {
		var h wire.Header
		var err error
		if have {
			have = false
			h, err = wire.ParseHeader(c.in[:], lim)
		} else {
			h, err = wire.ReadHeader(c.nc, &c.in, lim)
		}
		if err != nil {
			return 0, err
		}
		if h.ID != sent.ID {
			return 0, &wire.FrameError{Field: "id", Reason: fmt.Sprintf("%s for frame %d, want %d", h.Kind, h.ID, sent.ID)}
		}
		switch h.Kind {
		case wire.KindAck:
			c.answered = true
			if h.Flags&wire.FlagClose != 0 {
				c.broken = true
			}
			return h.Status, nil
		case wire.KindReply:
			if reply == nil || replied {
				return 0, &wire.FrameError{Field: "kind", Reason: "REPLY not asked for"}
			}
			replied = true
			if uint64(cap(c.reply)) < h.PayloadLen {
				c.reply = make([]byte, h.PayloadLen)
			}
			buf := c.reply[:h.PayloadLen]
			if err := wire.ReadPayload(c.nc, h, buf); err != nil {
				return 0, err
			}
			_, werr := reply.Write(buf)
			if cap(c.reply) > maxKeptReply {
				c.reply = nil
			}
			if werr != nil {
				// The reply's reader is gone; the transfer itself goes
				// on to its ACK.
				c.p.log.Debug("reply not delivered", "err", werr)
			}
		case wire.KindHops:
			if t.hops == nil || hopped {
				return 0, &wire.FrameError{Field: "kind", Reason: "HOPS not asked for"}
			}
			hopped = true
			if uint64(cap(c.hopsBuf)) < h.PayloadLen {
				c.hopsBuf = make([]byte, h.PayloadLen)
			}
			b := c.hopsBuf[:h.PayloadLen]
			if err := wire.ReadPayload(c.nc, h, b); err != nil {
				return 0, err
			}
			t.hops.Write(b)
		default:
			return 0, &wire.FrameError{Field: "kind", Reason: h.Kind.String() + " where an ACK belongs"}
		}
	}
}

// maxKeptReply is the largest reply buffer a connection keeps between
// transfers.
const maxKeptReply = 1 << 20
