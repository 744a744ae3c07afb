package transport

import (
	"context"
	"fmt"
	"io"
	"sync"
	"syscall"
	"time"

	"github.com/roadrunner-wasm/roadrunner/transport/features"
	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

// The io_uring accelerator's glue: probes, options, and the client side of
// a connection with a ring. The ring's requests are in uring.go.

// ringShape checks and defaults a ring's chunk and depth.
func ringShape(chunk, depth *int) error {
	if *chunk <= 0 {
		*chunk = DefaultRingChunk
	}
	if *depth <= 0 {
		*depth = DefaultRingDepth
	}
	if *depth > maxRingDepth {
		return fmt.Errorf("io_uring depth %d: at most %d", *depth, maxRingDepth)
	}
	return nil
}

func (o *DialOptions) ringDefaults() error {
	if o.ZeroCopyMin <= 0 {
		o.ZeroCopyMin = DefaultZeroCopyMin
	}
	if o.RingMin <= 0 {
		o.RingMin = DefaultRingMin
	}
	return ringShape(&o.RingChunk, &o.RingDepth)
}

// newRing makes the ring of a new connection, or says why there is none.
func (p *Peer) newRing(raw syscall.RawConn, zeroCopy bool) (*connRing, error) {
	if err := features.HaveIOURing(); err != nil {
		return nil, err
	}
	cr, err := newConnRing(raw, zeroCopy)
	if err != nil {
		return nil, fmt.Errorf("io_uring: %w", err)
	}
	return cr, nil
}

// ringFellBack reports one transfer that was meant to use io_uring and used
// plain syscalls.
func ringFellBack(onFallback func(from, to, reason string), err error) {
	if onFallback != nil {
		onFallback(AccelIOURing, "plain", features.Reason(err))
	}
}

func (p *Peer) ringFellBack(err error) { ringFellBack(p.opts.OnFallback, err) }

// AccelIOURing names the io_uring accelerator in fallbacks.
const AccelIOURing = "iouring"

// copiedLog logs once per process that zero-copy sends came back copied.
var copiedLog sync.Once

// sendRing sends the frame h (head, then payload) through the connection's
// ring, its answer's header received in the same batch as the last send,
// and reads the rest of the answer.
func (c *clientConn) sendRing(ctx context.Context, p *Peer, h wire.Header, head, payload []byte, reply io.Writer, start time.Time) (time.Duration, error) {
	rs := &c.rs
	*rs = ringSend{ctx: ctx, head: head, payload: payload, chunk: p.opts.RingChunk, depth: p.opts.RingDepth, ack: c.in[:], ioTimeout: p.opts.IOTimeout}
	rs.zeroCopy = c.ring.zc && len(payload) >= p.opts.ZeroCopyMin
	if d, ok := ctx.Deadline(); ok {
		left := max(time.Until(d), time.Millisecond)
		rs.ioTimeout = min(rs.ioTimeout, left)
		rs.ackWait = left
	}
	zeroCopy := rs.zeroCopy
	acked, sent, err := c.ring.send(rs)
	*rs = ringSend{} // no reference to the guest's memory past the transfer
	if zeroCopy {
		p.zcSends.Add(int64(c.ring.zcSent))
	}
	if zeroCopy && c.ring.zcSent > 0 && c.ring.copied == c.ring.zcSent && !p.keepZeroCopy {
		c.ring.zc = false
		copiedLog.Do(func() {
			p.log.Info("zero-copy sends come back copied (loopback, veth, or a NIC without the support): zero copy is off for such connections", "path", p.network)
		})
		if p.opts.OnZeroCopyCopied != nil {
			p.opts.OnZeroCopyCopied()
		}
	}
	switch {
	case err != nil && (ctx.Err() != nil || c.ring.aborted.Load()):
		c.broken = true
		return 0, c.failure(ctx, p, "send", err)
	case err != nil && sent.IsZero():
		// A send failed: the peer may have refused the frame and said
		// why in an ACK before closing.
		return c.answer(ctx, p, h, reply, err, 0, false)
	case err != nil:
		c.broken = true
		return 0, c.failure(ctx, p, "read answer", err)
	}
	landed := max(sent.Sub(start), 1)
	if acked < wire.HeaderSize {
		if acked == 0 {
			c.broken = true
			return 0, c.failure(ctx, p, "read answer", io.EOF)
		}
		if d, ok := ctx.Deadline(); ok {
			c.nc.SetReadDeadline(d)
		} else {
			c.nc.SetReadDeadline(time.Time{})
		}
		if _, err := io.ReadFull(c.nc, c.in[acked:]); err != nil {
			c.broken = true
			return 0, c.failure(ctx, p, "read answer", err)
		}
	}
	return c.answer(ctx, p, h, reply, nil, landed, true)
}
