//go:build linux

package transport

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/roadrunner-wasm/roadrunner/internal/ring"
	"github.com/roadrunner-wasm/roadrunner/transport/features"
	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

// User data of a connection ring's requests: the kind in the upper half,
// the index within the batch in the lower.
const (
	udSend uint64 = 1 << 32
	udRecv uint64 = 2 << 32
	udAck  uint64 = 3 << 32
	udStop uint64 = 4 << 32 // the CancelFD of an abort
)

// connRing is the io_uring of one connection: the connection carries one
// transfer at a time, so its ring has one user at a time and needs no lock.
// Every request it submits is reaped before the method that submitted it
// returns, so the kernel never holds a guest's memory past a transfer.
type connRing struct {
	r   ring.Ring
	fd  int
	raw syscall.RawConn

	cqes [2*ringEntries + 2]ring.CQE
	msg  unix.Msghdr
	iov  [2]unix.Iovec

	// zc is whether large sends still use SEND_ZC on this connection:
	// turned off once the kernel reports it copied them.
	zc bool
	// busy is set while requests are in flight: an abort from another
	// goroutine then shuts the socket down, which ends them.
	busy atomic.Bool
	// aborted is set by abort and by a timeout: the socket is shut down,
	// or will be before any request is submitted.
	aborted atomic.Bool
	shutFn  func(fd uintptr) // shut, bound once
	// copied counts the SEND_ZC notifications of the last send that said
	// the kernel copied after all, and zcSent the notifications.
	copied, zcSent int

	frame ringSend // sendFrame's, reused

	lens [ringEntries]int // bytes of each send of the batch
}

// newConnRing makes the ring of the connection whose socket raw is.
func newConnRing(raw syscall.RawConn, zeroCopy bool) (*connRing, error) {
	fd := -1
	if err := raw.Control(func(f uintptr) { fd = int(f) }); err != nil {
		return nil, err
	}
	r, err := ring.New(&ring.Options{Entries: ringEntries})
	if err != nil {
		return nil, err
	}
	cr := &connRing{r: r, fd: fd, raw: raw, zc: zeroCopy && features.HaveSendZC() == nil}
	cr.shutFn = cr.shut
	return cr, nil
}

// wait submits what is queued and reaps at least one completion into
// cr.cqes, waiting in io_uring_enter: the goroutine holds its thread while
// it waits (docs/RATIONALE.md says why not the runtime's poller);
// ring.ErrTimeout after timeout (0: none) without one.
func (cr *connRing) wait(timeout time.Duration) (int, error) {
	return cr.r.Wait(cr.cqes[:], 1, timeout)
}

func (cr *connRing) close() { cr.r.Close() }

// abort makes the requests in flight end at once (a send with EPIPE, a
// receive with what it has) by shutting the socket down, and the ring
// refuse any later transfer. Safe to call from any goroutine; the socket is
// shut down through its RawConn, which cannot have been closed and its
// number reused meanwhile.
func (cr *connRing) abort() {
	// aborted before busy here, busy before aborted in start: one of the
	// two sees the other.
	cr.aborted.Store(true)
	if cr.busy.Load() {
		cr.raw.Control(cr.shutFn)
	}
}

func (cr *connRing) shut(fd uintptr) { unix.Shutdown(int(fd), unix.SHUT_RDWR) }

// start marks requests in flight; false if the ring was aborted.
func (cr *connRing) start() bool {
	cr.busy.Store(true)
	if cr.aborted.Load() {
		cr.busy.Store(false)
		return false
	}
	return true
}

// ringSend is one transfer's sending through a connection's ring.
type ringSend struct {
	ctx           context.Context
	head, payload []byte
	chunk, depth  int
	zeroCopy      bool // payload chunks with SEND_ZC
	// ack, if not nil, receives the answer's header, linked after the
	// last send (wire.HeaderSize bytes).
	ack []byte
	// ioTimeout bounds each wait for sends; ackWait bounds the wait for
	// the answer once the sends are done (0: unbounded, the caller
	// aborts).
	ioTimeout, ackWait time.Duration
}

// errRingTimeout is a ring wait that saw no completion for its timeout.
var errRingTimeout = fmt.Errorf("io_uring: no progress: %w", os.ErrDeadlineExceeded)

// errRingAborted is a transfer aborted from another goroutine (its
// context ended) before any request failed; the caller reports the
// context's cause.
var errRingAborted = errors.New("io_uring: transfer aborted")

// sendFlags are the flags of every send: all of the bytes or an error (a
// short send would break the link chain), and no SIGPIPE.
const sendFlags = unix.MSG_WAITALL | unix.MSG_NOSIGNAL

// send sends s.head then s.payload as one stream of linked requests, in
// batches of at most s.depth requests, each batch submitted with one
// system call and reaped whole before the next: unlinked sends in flight
// together on one socket can reorder bytes, and a chain cannot be extended
// once submitted. It returns how many answer header bytes arrived in s.ack
// (wire.HeaderSize, or fewer if the answer came short or a send failed), and
// when the last payload byte was sent.
func (cr *connRing) send(s *ringSend) (acked int, sent time.Time, err error) {
	if !cr.start() {
		return 0, sent, errRingAborted
	}
	defer cr.busy.Store(false)
	if s.ctx != nil {
		// A cancellation before busy was set found nothing to abort.
		if err := context.Cause(s.ctx); err != nil {
			return 0, sent, err
		}
	}
	cr.copied, cr.zcSent = 0, 0
	payload := s.payload
	headSent := false
	for {
		// Plan the batch: the header (first batch only) alone or with the
		// first chunk in one SENDMSG, then chunks.
		headAlone := !headSent && (s.zeroCopy || len(payload) == 0)
		total := 0
		if headAlone {
			total++
		}
		chunks := min((len(payload)+s.chunk-1)/s.chunk, s.depth-total)
		total += chunks
		last := chunks*s.chunk >= len(payload)
		withAck := last && s.ack != nil
		for i := 0; i < total; i++ {
			o := ring.Op{UserData: udSend | uint64(i), Flags: ring.SQEIOLink}
			if i == total-1 && !withAck {
				// A chain left open at the end of a submission is handed
				// to the kernel's worker threads instead of running
				// inline.
				o.Flags = 0
			}
			var err error
			switch {
			case i == 0 && headAlone:
				err = cr.r.Send(o, cr.fd, s.head, sendFlags)
				cr.lens[i] = len(s.head)
				headSent = true
			case i == 0 && !headSent:
				k := min(len(payload), s.chunk)
				cr.iov[0], cr.iov[1] = iovec(s.head), iovec(payload[:k])
				cr.msg = unix.Msghdr{Iov: &cr.iov[0], Iovlen: 2}
				err = cr.r.SendMsg(o, cr.fd, &cr.msg, sendFlags)
				cr.lens[i] = len(s.head) + k
				payload = payload[k:]
				headSent = true
			default:
				k := min(len(payload), s.chunk)
				if s.zeroCopy {
					err = cr.r.SendZC(o, cr.fd, payload[:k], sendFlags, ring.SendZCReportUsage)
				} else {
					err = cr.r.Send(o, cr.fd, payload[:k], sendFlags)
				}
				cr.lens[i] = k
				payload = payload[k:]
			}
			if err != nil {
				return 0, sent, cr.finish(i, err)
			}
		}
		n := total
		if withAck {
			if err := cr.r.Recv(ring.Op{UserData: udAck}, cr.fd, s.ack[:wire.HeaderSize], unix.MSG_WAITALL); err != nil {
				return 0, sent, cr.finish(n, err)
			}
			n++
		}
		acked, err = cr.reap(n, withAck, s.ioTimeout, s.ackWait, &sent)
		// The kernel is done with the memory only now: keep it alive
		// until here (the caller's references may be dead already).
		runtime.KeepAlive(s.head)
		runtime.KeepAlive(s.payload)
		if err != nil || last {
			return acked, sent, err
		}
	}
}

// finish reaps the n requests already queued (submitting them) after err
// stopped the queueing, and returns err.
func (cr *connRing) finish(n int, err error) error {
	if n > 0 {
		cr.reap(n, false, abortReapTimeout, 0, nil)
	}
	return err
}

// reap submits the queued batch of n requests (the last one the answer's
// RECV if withAck) and reaps all their completions, SEND_ZC notifications
// included; it sets *sent when the last send completed. Each wait for a
// send's completion is bounded by ioTimeout; the wait for the answer by
// ackWait (0: unbounded). On a timeout it aborts: it shuts the socket down
// and still reaps everything.
func (cr *connRing) reap(n int, withAck bool, ioTimeout, ackWait time.Duration, sent *time.Time) (acked int, err error) {
	pending := n   // requests without their result
	notifs := 0    // SEND_ZC notifications still to come
	sendsLeft := n // sends without their result
	if withAck {
		sendsLeft--
	}
	var failed error
	ackCanceled := false
	for pending > 0 || notifs > 0 {
		timeout := ioTimeout
		if sendsLeft == 0 && notifs == 0 {
			timeout = ackWait
		}
		if cr.aborted.Load() {
			timeout = abortReapTimeout
		}
		got, werr := cr.wait(timeout)
		for _, c := range cr.cqes[:got] {
			switch {
			case c.Flags&ring.CQEFNotif != 0:
				notifs--
				cr.zcSent++
				if c.Res&ring.NotifUsageZCCopied != 0 {
					cr.copied++
				}
			case c.UserData == udStop:
				// The abort's cancellation: its count does not matter.
			case c.UserData == udAck:
				pending--
				switch {
				case c.Res == -int32(unix.ECANCELED):
					// A send before it failed or came short (and says
					// so), or the abort canceled it.
					ackCanceled = true
				case c.Res < 0:
					if failed == nil {
						failed = os.NewSyscallError("recv", c.Err())
					}
				default:
					acked = int(c.Res)
				}
			default:
				pending--
				sendsLeft--
				switch i := int(c.UserData & 0xffffffff); {
				case failed != nil:
				case c.Res < 0 && c.Res != -int32(unix.ECANCELED):
					failed = os.NewSyscallError("send", c.Err())
				case c.Res >= 0 && int(c.Res) < cr.lens[i]:
					// MSG_WAITALL: a short send is one the socket ended
					// in the middle of (the peer closed or reset it).
					failed = fmt.Errorf("send: %d of %d bytes: %w", c.Res, cr.lens[i], unix.EPIPE)
				}
				if sendsLeft == 0 && sent != nil && failed == nil {
					*sent = time.Now()
				}
				if c.Flags&ring.CQEFMore != 0 {
					notifs++
				}
			}
		}
		if werr != nil {
			if err := cr.waitFailed(werr, &failed); err != nil {
				return 0, err
			}
		}
	}
	switch {
	case failed == nil && cr.aborted.Load():
		failed = errRingAborted
	case failed == nil && ackCanceled:
		failed = errRingAborted
	}
	return acked, failed
}

// waitFailed handles a failed wait of a reaping loop. A wait that saw no
// completion for its timeout ends the requests in flight (the loop goes on
// and reaps them) and sets *failed. Anything else (the ring failed, or the
// reaping after an abort timed out) leaves requests the kernel may still
// be using the memory of: closing the ring cancels them, the connection is
// unusable, and the error is returned.
func (cr *connRing) waitFailed(werr error, failed *error) error {
	if errors.Is(werr, ring.ErrTimeout) && !cr.aborted.Load() {
		*failed = errRingTimeout
		cr.stop()
		return nil
	}
	cr.r.Close()
	return fmt.Errorf("io_uring wait: %w", werr)
}

// abortReapTimeout bounds the reaping of requests after the socket was shut
// down: they end at once, unless something is badly wrong.
const abortReapTimeout = 10 * time.Second

// stop shuts the socket down and cancels every request on it.
func (cr *connRing) stop() {
	cr.aborted.Store(true)
	cr.raw.Control(cr.shutFn)
	if cr.r.CancelFD(ring.Op{UserData: udStop}, cr.fd, ring.CancelAll) == nil {
		cr.r.Submit()
	}
}

// recv receives exactly len(dst) bytes into dst with linked RECV requests
// of chunk bytes, depth at a time; each wait is bounded by ioTimeout. A
// stream that ends first is wire.ErrPayloadTruncated.
func (cr *connRing) recv(dst []byte, chunk, depth int, ioTimeout time.Duration) error {
	if !cr.start() {
		return errRingAborted
	}
	defer cr.busy.Store(false)
	defer runtime.KeepAlive(dst) // the kernel writes into it until reaped
	var lens [maxRingDepth]int
	for len(dst) > 0 {
		n := min((len(dst)+chunk-1)/chunk, depth)
		for i := 0; i < n; i++ {
			k := min(len(dst), chunk)
			o := ring.Op{UserData: udRecv | uint64(i), Flags: ring.SQEIOLink}
			if i == n-1 {
				o.Flags = 0
			}
			if err := cr.r.Recv(o, cr.fd, dst[:k], unix.MSG_WAITALL); err != nil {
				return cr.finish(i, err)
			}
			lens[i] = k
			dst = dst[k:]
		}
		pending := n
		var failed error
		short := false
		for pending > 0 {
			timeout := ioTimeout
			if cr.aborted.Load() {
				timeout = abortReapTimeout
			}
			got, werr := cr.wait(timeout)
			for _, c := range cr.cqes[:got] {
				if c.UserData == udStop {
					continue
				}
				pending--
				i := int(c.UserData & 0xffffffff)
				switch {
				case c.Res < 0:
					if failed == nil && c.Res != -int32(unix.ECANCELED) {
						failed = os.NewSyscallError("recv", c.Err())
					}
				case int(c.Res) < lens[i]:
					short = true
				}
			}
			if werr != nil {
				if err := cr.waitFailed(werr, &failed); err != nil {
					return err
				}
			}
		}
		switch {
		case failed != nil:
			return fmt.Errorf("read frame payload: %w", failed)
		case short:
			return wire.ErrPayloadTruncated
		case cr.aborted.Load():
			return fmt.Errorf("read frame payload: %w", errRingAborted)
		}
	}
	return nil
}

// sendFrame sends head and payload (an ACK, a REPLY) and waits until they
// are sent, each wait bounded by ioTimeout.
func (cr *connRing) sendFrame(head, payload []byte, chunk, depth int, ioTimeout time.Duration) error {
	cr.frame = ringSend{head: head, payload: payload, chunk: chunk, depth: depth, ioTimeout: ioTimeout}
	_, _, err := cr.send(&cr.frame)
	cr.frame = ringSend{}
	return err
}

func iovec(b []byte) unix.Iovec {
	v := unix.Iovec{}
	if len(b) > 0 {
		v.Base = unsafe.SliceData(b)
	}
	v.SetLen(len(b))
	return v
}
