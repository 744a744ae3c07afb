//go:build linux

package transport

import (
	"context"
	"io"
	"time"

	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

// ringSender sends payloads of RingMin bytes or more through the
// connection's io_uring (MechanismIOURing), the answer's header received
// in the same batch as the last send; smaller payloads, measured faster
// with plain system calls, go with the sender underneath.
type ringSender struct {
	ring  *connRing
	small sender
	rs    ringSend
}

func (s *ringSender) send(ctx context.Context, c *clientConn, t *transfer) error {
	o := &c.p.opts
	if len(t.payload) < o.RingMin {
		return s.small.send(ctx, c, t)
	}
	t.mech = MechanismIOURing
	rs := &s.rs
	*rs = ringSend{ctx: ctx, head: t.head, payload: t.payload, chunk: o.RingChunk, depth: o.RingDepth, ack: c.in[:], ioTimeout: o.IOTimeout}
	rs.zeroCopy = s.ring.zc && len(t.payload) >= o.ZeroCopyMin
	if d, ok := ctx.Deadline(); ok {
		left := max(time.Until(d), time.Millisecond)
		rs.ioTimeout = min(rs.ioTimeout, left)
		rs.ackWait = left
	}
	zeroCopy := rs.zeroCopy
	acked, sent, err := s.ring.send(rs)
	*rs = ringSend{} // no reference to the sender's memory past the transfer
	if zeroCopy {
		c.p.zcSends.Add(int64(s.ring.zcSent))
	}
	if zeroCopy && s.ring.zcSent > 0 && s.ring.copied == s.ring.zcSent && !c.p.keepZeroCopy {
		s.ring.zc = false
		if o.OnZeroCopyCopied != nil {
			o.OnZeroCopyCopied()
		}
	}
	switch {
	case err != nil && (ctx.Err() != nil || s.ring.aborted.Load()):
		c.broken = true
		return c.failure(ctx, "send", err)
	case err != nil && sent.IsZero():
		// A send failed: the peer may have refused the frame and said
		// why in an ACK before closing.
		return c.answer(ctx, t, err, false)
	case err != nil:
		c.broken = true
		return c.failure(ctx, "read answer", err)
	}
	t.landed = max(sent.Sub(t.start), 1)
	if acked < wire.HeaderSize {
		if acked == 0 {
			c.broken = true
			return c.failure(ctx, "read answer", io.EOF)
		}
		if d, ok := ctx.Deadline(); ok {
			c.nc.SetReadDeadline(d)
		} else {
			c.nc.SetReadDeadline(time.Time{})
		}
		if _, err := io.ReadFull(c.nc, c.in[acked:]); err != nil {
			c.broken = true
			return c.failure(ctx, "read answer", err)
		}
	}
	return c.answer(ctx, t, nil, true)
}

func (s *ringSender) abort() {
	s.ring.abort()
	s.small.abort()
}

func (s *ringSender) close() {
	s.ring.close()
	s.small.close()
}
