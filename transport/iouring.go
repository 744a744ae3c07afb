package transport

import (
	"context"
	"errors"
	"fmt"
	"github.com/roadrunner-wasm/roadrunner/transport/wire"
	"io"
	"log/slog"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/roadrunner-wasm/roadrunner/internal/ring"
)

// The io_uring accelerator's glue: probes, options, and the client side of
// a connection with a ring. The ring's requests are in uring.go.

// ProbeIOURing reports whether this process can use io_uring as the unix
// and tcp paths do (Linux 5.19): set up a ring with IORING_FEAT_EXT_ARG and
// the SEND, RECV, SENDMSG and ASYNC_CANCEL operations. nil, or an error
// wrapping [ErrNotSupported] and the errno: ENOSYS under Docker's and
// containerd's default seccomp profiles, EPERM with
// kernel.io_uring_disabled=2 (or 1 without the io_uring_group).
func ProbeIOURing() error { return iouringTest.result() }

// ProbeSendZC reports whether this process can send with IORING_OP_SEND_ZC
// and have the kernel report whether it copied after all
// (IORING_SEND_ZC_REPORT_USAGE, Linux 6.2): nil, or an error wrapping
// [ErrNotSupported].
func ProbeSendZC() error { return sendZCTest.result() }

var (
	iouringTest = newFeatureTest("io_uring", "5.19", probeIOURing)
	sendZCTest  = newFeatureTest("io_uring SEND_ZC", "6.2", probeSendZC)
)

// sendZCDetail is the io_uring.send_zc row's note: where zero copy pays.
const sendZCDetail = "; loopback and veth copy anyway: zero copy turns off per connection there"

func probeIOURing() error {
	r, err := ring.New(&ring.Options{Entries: 4})
	if err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) {
			err = fmt.Errorf("%w (%s)", err, errnoName(errno))
		}
		if v, rerr := ring.ReadDisabled(); rerr == nil && v != 0 {
			return fmt.Errorf("%w (kernel.io_uring_disabled=%d)", err, v)
		}
		return err
	}
	defer r.Close()
	if r.Features()&ring.FeatExtArg == 0 {
		return fmt.Errorf("io_uring: no IORING_FEAT_EXT_ARG (Linux 5.11): %w", unix.EOPNOTSUPP)
	}
	p, err := r.Probe()
	if err != nil {
		return fmt.Errorf("io_uring probe: %w", err)
	}
	for _, op := range []struct {
		op   uint8
		name string
	}{{ring.OpSend, "SEND"}, {ring.OpRecv, "RECV"}, {ring.OpSendMsg, "SENDMSG"}, {ring.OpAsyncCancel, "ASYNC_CANCEL"}} {
		if !p.Supported(op.op) {
			return fmt.Errorf("io_uring: operation %s: %w", op.name, unix.EOPNOTSUPP)
		}
	}
	return nil
}

// probeSendZC sends probeData with SEND_ZC and usage reporting over a TCP
// loopback pair and reads it back.
func probeSendZC() error {
	if err := ProbeIOURing(); err != nil {
		return err
	}
	r, err := ring.New(&ring.Options{Entries: 4})
	if err != nil {
		return err
	}
	defer r.Close()
	if p, err := r.Probe(); err != nil || !p.Supported(ring.OpSendZC) {
		return fmt.Errorf("io_uring: operation SEND_ZC: %w", unix.EOPNOTSUPP)
	}
	client, server, err := probeTCPPair()
	if err != nil {
		return err
	}
	defer unix.Close(client)
	defer unix.Close(server)
	buf := make([]byte, len(probeData)) // heap: the kernel reads it after the call
	copy(buf, probeData)
	if err := r.SendZC(ring.Op{UserData: 1}, client, buf, unix.MSG_NOSIGNAL, ring.SendZCReportUsage); err != nil {
		return err
	}
	var cqes [2]ring.CQE
	got := 0
	for more := true; more; {
		n, err := r.Wait(cqes[:], 1, 5*time.Second)
		if err != nil {
			return fmt.Errorf("io_uring SEND_ZC: %w", err)
		}
		for _, c := range cqes[:n] {
			got++
			if c.Res < 0 && c.Flags&ring.CQEFNotif == 0 {
				return opErrno("io_uring SEND_ZC", c.Err())
			}
			more = c.Flags&ring.CQEFMore != 0 && c.Flags&ring.CQEFNotif == 0
		}
	}
	return probeReadBack(server, probeData, "io_uring SEND_ZC")
}

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
	if err := ProbeIOURing(); err != nil {
		return nil, err
	}
	cr, err := newConnRing(raw, zeroCopy)
	if err != nil {
		return nil, fmt.Errorf("io_uring: %w", err)
	}
	return cr, nil
}

// ringFallbackLog logs the first io_uring fallback of the process.
var ringFallbackLog sync.Once

// LogIOURingRefused logs, as a warning, that io_uring was asked for and is
// refused for err, unless that was logged before in this process: the
// transport logs it at the first transfer that falls back, and a program
// that probes at start-up ([ProbeIOURing]) can log it then instead, once.
func LogIOURingRefused(log *slog.Logger, err error) {
	ringFallbackLog.Do(func() {
		log.Warn("io_uring refused: the unix and tcp paths use plain syscalls", "accel", AccelIOURing, "reason", FallbackReason(err), "err", err)
	})
}

// ringFellBack records one transfer that was meant to use io_uring and used
// plain syscalls.
func ringFellBack(log *slog.Logger, onFallback func(from, to, reason string), err error) {
	reason := FallbackReason(err)
	LogIOURingRefused(log, err)
	if onFallback != nil {
		onFallback(AccelIOURing, "plain", reason)
	}
}

func (p *Peer) ringFellBack(err error) { ringFellBack(p.log, p.opts.OnFallback, err) }

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
