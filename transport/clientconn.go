package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"syscall"
	"time"
	"unsafe"

	"github.com/roadrunner-wasm/roadrunner/transport/features"
	"github.com/roadrunner-wasm/roadrunner/transport/wire"

	"golang.org/x/sys/unix"
)

// clientConn is one connection of a Peer: it carries one transfer at a time.
type clientConn struct {
	nc      net.Conn
	network string
	raw     syscall.RawConn

	nextID uint64
	out    [wire.HeaderSize + wire.MaxNameLen]byte // header and name of the frame being sent
	in     [wire.HeaderSize]byte
	iov    [2][]byte
	bufs   net.Buffers
	reply  []byte // REPLY payloads land here, reused

	pipe *pipe // splice mechanism's pipe, made on first use

	// spliceOut's state, passed through fields so that its method value
	// (made once) does not allocate per call.
	spliceFn   func(fd uintptr) bool
	spliceN    int
	spliceGot  int
	spliceErr  error
	spliceMore bool

	abortFn func() // c.abort, bound once
	peekFn  func(fd uintptr) bool
	peekBuf [1]byte
	peekOK  bool

	// ring is the connection's io_uring, nil without IOURing or where
	// refused (ringErr says why).
	ring    *connRing
	ringErr error
	rs      ringSend

	sm sockmapConn // the connection's share of DialOptions.Sockmap

	broken   bool // the connection is unusable: close it
	answered bool // the peer answered the last frame (ACK read)
}

func newClientConn(nc net.Conn, network string) (*clientConn, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("%T has no file descriptor", nc)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	c := &clientConn{nc: nc, network: network, raw: raw}
	c.spliceFn = c.spliceOut
	c.peekFn = c.peek
	c.abortFn = c.abort
	return c, nil
}

func (c *clientConn) close() {
	if c.ring != nil {
		c.ring.close()
	}
	c.nc.Close()
	c.sm.closed()
	if c.pipe != nil {
		c.pipe.close()
		c.pipe = nil
	}
}

// alive reports whether an idle connection is still open: a peer that
// stopped or restarted has closed it, and reading it without waiting shows
// that (EOF or an error) instead of a transfer failing on it.
func (c *clientConn) alive() bool {
	c.peekOK = false
	err := c.raw.Read(c.peekFn)
	return c.peekOK && err == nil
}

// peek is alive's raw read callback (bound once in peekFn, so that calling
// it does not allocate).
func (c *clientConn) peek(fd uintptr) bool {
	// unix.Recvfrom would allocate a sockaddr for every call.
	_, _, errno := unix.Syscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&c.peekBuf[0])), 1, unix.MSG_PEEK|unix.MSG_DONTWAIT, 0, 0)
	c.peekOK = errno == unix.EAGAIN || errno == unix.EINTR
	return true
}

// abort makes the connection's pending and future I/O fail at once: a
// send's context ended.
func (c *clientConn) abort() {
	c.nc.SetDeadline(aLongTimeAgo)
	if c.ring != nil {
		c.ring.abort()
	}
}

// aLongTimeAgo is a deadline in the past: it makes pending I/O fail at once.
var aLongTimeAgo = time.Unix(1, 0)

// send writes one DATA frame and reads its answer.
func (c *clientConn) send(ctx context.Context, p *Peer, to string, payload []byte, reply io.Writer, start time.Time) (time.Duration, error) {
	c.answered = false
	if err := context.Cause(ctx); err != nil {
		return 0, err
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
	if p.opts.Verify {
		h.Flags |= wire.FlagCRC
		h.CRC = wire.Checksum(payload)
	}
	if reply != nil {
		h.Flags |= wire.FlagReply
	}
	h.Put(c.out[:])
	n := copy(c.out[wire.HeaderSize:], to)
	head := c.out[:wire.HeaderSize+n]

	if c.sm.reason != "" {
		c.sm.fellBack(p.log, p.opts.OnFallback)
	}
	if c.ring != nil && len(payload) >= p.opts.RingMin {
		return c.sendRing(ctx, p, h, head, payload, reply, start)
	}
	if p.opts.IOURing && c.ring == nil {
		p.ringFellBack(c.ringErr)
	}
	werr := c.write(ctx, p, head, payload)
	var landed time.Duration
	if werr == nil {
		landed = max(time.Since(start), 1)
	}
	if werr != nil && ctx.Err() != nil {
		c.broken = true
		return 0, c.failure(ctx, p, "send", werr)
	}
	return c.answer(ctx, p, h, reply, werr, landed, false)
}

// answer reads the answer to the frame h after its sending ended with werr
// (have: its header is in c.in already) and makes send's result.
func (c *clientConn) answer(ctx context.Context, p *Peer, h wire.Header, reply io.Writer, werr error, landed time.Duration, have bool) (time.Duration, error) {
	status, err := c.readAnswer(ctx, p, h, reply, werr != nil, have)
	switch {
	case err != nil:
		c.broken = true
		if werr != nil {
			return 0, c.failure(ctx, p, "send", werr)
		}
		return 0, c.failure(ctx, p, "read answer", err)
	case werr != nil:
		// The peer refused the frame before reading all of it and said
		// why in an ACK, then closed.
		c.broken = true
		if status == 0 {
			return 0, c.failure(ctx, p, "send", werr)
		}
	}
	if status != 0 {
		return 0, &StatusError{Status: status}
	}
	return landed, nil
}

// failure wraps an I/O error of the transfer, naming the context's cause
// if that is why it failed.
func (c *clientConn) failure(ctx context.Context, p *Peer, op string, err error) error {
	if cause := context.Cause(ctx); cause != nil {
		return fmt.Errorf("%s %s: %w", op, p.address, cause)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// The context's deadline, set on the socket, may fire before the
		// context's own timer.
		if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
			return fmt.Errorf("%s %s: %w", op, p.address, context.DeadlineExceeded)
		}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return fmt.Errorf("%s %s: %w: %w", op, p.address, ErrConnClosed, err)
	}
	return fmt.Errorf("%s %s: %w", op, p.address, err)
}

// write writes the frame: head (header and name), then payload, with the
// peer's mechanism.
func (c *clientConn) write(ctx context.Context, p *Peer, head, payload []byte) error {
	mech := p.opts.Mechanism
	var sample *autoSample
	if p.auto != nil {
		mech, sample = p.auto.pick(len(payload))
	}
	if mech == MechanismSplice && len(payload) > 0 {
		if err := spliceRefused(); err != nil {
			p.fellBack(err)
			mech = MechanismWrite
		}
	}
	p.announce()
	if sample != nil {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		sample.begin()
	}
	var err error
	if mech == MechanismSplice && len(payload) > 0 {
		err = c.writeSplice(ctx, p, head, payload)
	} else {
		err = c.writeChunks(ctx, p, head, payload, p.opts.ChunkSize)
	}
	if sample != nil && err == nil {
		p.auto.record(p, sample, len(payload))
	}
	return err
}

// arm sets the write deadline for the next IOTimeout of progress (or the
// context's deadline if sooner) and reports the context's end, which
// replacing the deadline would otherwise hide.
func (c *clientConn) arm(ctx context.Context, p *Peer) error {
	dl := time.Now().Add(p.opts.IOTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	c.nc.SetWriteDeadline(dl)
	return context.Cause(ctx)
}

// writeChunks writes head and payload with writev: head with the first
// chunk of payload in one call, then the rest chunk by chunk. chunk <= 0
// means the whole payload at once.
func (c *clientConn) writeChunks(ctx context.Context, p *Peer, head, payload []byte, chunk int) error {
	if chunk <= 0 {
		chunk = len(payload)
	}
	first := min(len(payload), chunk)
	if err := c.arm(ctx, p); err != nil {
		return err
	}
	c.iov[0], c.iov[1] = head, payload[:first]
	c.bufs = c.iov[:]
	if len(head) == 0 {
		c.bufs = c.iov[1:]
	}
	_, err := c.bufs.WriteTo(c.nc)
	c.iov[0], c.iov[1] = nil, nil
	if err != nil {
		return err
	}
	for off := first; off < len(payload); off += chunk {
		if err := c.arm(ctx, p); err != nil {
			return err
		}
		if _, err := c.nc.Write(payload[off:min(len(payload), off+chunk)]); err != nil {
			return err
		}
	}
	return nil
}

// writeSplice writes head, then moves payload through the connection's pipe
// with vmsplice and splice. If the system refuses either call before any
// byte of a chunk reached the socket, the rest goes with writev and the
// fallback is recorded.
func (c *clientConn) writeSplice(ctx context.Context, p *Peer, head, payload []byte) error {
	if c.pipe == nil {
		pp, err := newPipe()
		if err != nil {
			p.fellBack(err)
			return c.writeChunks(ctx, p, head, payload, p.opts.ChunkSize)
		}
		c.pipe = pp
	}
	if err := c.arm(ctx, p); err != nil {
		return err
	}
	if _, err := c.nc.Write(head); err != nil {
		return err
	}
	for off := 0; off < len(payload); {
		n, err := c.pipe.vmsplice(payload[off:min(len(payload), off+c.pipe.size)])
		if err != nil {
			if features.IsRefusal(err) {
				refuseSplice(fmt.Errorf("vmsplice: %w", err))
				p.fellBack(err)
				return c.writeChunks(ctx, p, nil, payload[off:], p.opts.ChunkSize)
			}
			return fmt.Errorf("vmsplice: %w", err)
		}
		moved := 0
		for moved < n {
			if err := c.arm(ctx, p); err != nil {
				return err
			}
			c.spliceN, c.spliceGot, c.spliceErr = n-moved, 0, nil
			// SPLICE_F_MORE tells TCP more bytes follow at once: on the
			// last piece of the payload it would hold that piece back
			// (like TCP_CORK) until a timer fires.
			c.spliceMore = off+n < len(payload)
			if err := c.raw.Write(c.spliceFn); err != nil {
				return err
			}
			if c.spliceErr != nil {
				if moved == 0 && features.IsRefusal(c.spliceErr) {
					// The chunk is still whole in the pipe: drop the pipe
					// and write the chunk from the payload instead.
					refuseSplice(fmt.Errorf("splice: %w", c.spliceErr))
					p.fellBack(c.spliceErr)
					c.pipe.close()
					c.pipe = nil
					return c.writeChunks(ctx, p, nil, payload[off:], p.opts.ChunkSize)
				}
				return fmt.Errorf("splice: %w", c.spliceErr)
			}
			moved += c.spliceGot
		}
		off += n
	}
	return nil
}

// spliceOut is the raw write callback of writeSplice: one splice from the
// pipe into the socket. It returns false to wait for the socket to drain.
func (c *clientConn) spliceOut(fd uintptr) bool {
	flags := unix.SPLICE_F_MOVE | unix.SPLICE_F_NONBLOCK
	if c.spliceMore {
		flags |= unix.SPLICE_F_MORE
	}
	n, err := unix.Splice(c.pipe.r, nil, int(fd), nil, c.spliceN, flags)
	if err == unix.EAGAIN {
		return false
	}
	if err == unix.EINTR {
		return c.spliceOut(fd)
	}
	c.spliceGot, c.spliceErr = int(n), err
	if err == nil && n == 0 {
		c.spliceErr = io.ErrUnexpectedEOF
	}
	return true
}

// readAnswer reads the REPLY the frame may get and its ACK. After a failed
// write (afterWriteErr) the peer may still have answered, with an ACK that
// says why it refused the frame: that is looked for briefly. have says the
// first header is in c.in already.
func (c *clientConn) readAnswer(ctx context.Context, p *Peer, sent wire.Header, reply io.Writer, afterWriteErr, have bool) (int32, error) {
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
	lim := wire.Limits{MaxPayload: p.opts.MaxReply}
	replied := false
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
				p.log.Debug("reply not delivered", "err", werr)
			}
		default:
			return 0, &wire.FrameError{Field: "kind", Reason: h.Kind.String() + " where an ACK belongs"}
		}
	}
}

// maxKeptReply is the largest reply buffer a connection keeps between
// transfers.
const maxKeptReply = 1 << 20

// announce tells OnMechanism the peer's mechanism once, for fixed ones.
func (p *Peer) announce() {
	if p.auto != nil {
		return
	}
	p.announced.Do(func() {
		why := "configured"
		if p.network == PathUnix {
			why = "the unix path writes"
		}
		p.log.Info("send mechanism", "path", p.network, "mechanism", p.opts.Mechanism, "why", why)
		if p.opts.OnMechanism != nil {
			p.opts.OnMechanism(p.opts.Mechanism, why)
		}
	})
}

// fellBack records one transfer that used writev instead of splice.
func (p *Peer) fellBack(err error) {
	reason := features.Reason(err)
	logFallbackOnce.Do(func() {
		p.log.Warn("splice refused: the tcp path sends with writev instead", "reason", reason, "err", err)
	})
	if p.opts.OnFallback != nil {
		p.opts.OnFallback(MechanismSplice, mechanismWritev, reason)
	}
}
