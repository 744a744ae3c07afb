//go:build linux && giouring

package ring

import (
	"errors"
	"fmt"
	"math"
	"syscall"
	"time"
	"unsafe"

	"github.com/pawelgaczynski/giouring"
	"golang.org/x/sys/unix"
)

// This file is the second backend, over github.com/pawelgaczynski/giouring
// (v0.0.0-20230826085535-69588b89acb9, a Go port of liburing 2.5). Any
// binary importing giouring must be linked with -ldflags=-checklinkname=0
// (it linknames syscall.mmap and syscall.munmap), hence the build tag.
//
// What giouring does for this backend: io_uring_setup and the mappings
// (QueueInitParams), claiming SQEs (GetSQE), most prepare helpers,
// publishing the SQ tail and submitting (Submit), io_uring_enter (Enter2),
// reaping (PeekBatchCQE, CQAdvance), registration and the probe, teardown
// (QueueExit).
//
// What it gets wrong at that version, measured on Linux 6.18, and what
// this backend does instead:
//
//   - PrepareSendZC (and so PrepareSendZCFixed) puts the address of the
//     slice header in sqe->addr, not the address of the data: the kernel
//     sends len(buf) bytes of whatever memory follows the header, with
//     res = len(buf) and no error. SendZC prepares a SEND with PrepareSend
//     and turns it into SEND_ZC (opcode, ioprio flags, buf_index).
//     TestGiouringSendZCDefect watches it.
//   - prepareRW, under every Prepare*, resets neither the opcode flags
//     union (rw_flags, msg_flags, cancel_flags, nop_flags...) nor addr3,
//     and GetSQE does not clear the slot: a prepare that has no flags of
//     its own inherits the flags of the request that used the slot last.
//     A NOP after a CancelFD(ALL) in the same slot fails with -EBADF (the
//     stale 3 reads as IORING_NOP_INJECT_RESULT|IORING_NOP_FILE), a READ
//     after a SEND with MSG_DONTWAIT|MSG_NOSIGNAL with -EOPNOTSUPP (stale
//     rw_flags 0x4040). next zeroes every SQE before preparing it.
//   - PrepareLinkTimeout points sqe->addr at a timespec on its own stack
//     frame, dead once it returns and overwritten by the next calls,
//     while the kernel reads it only at submit: a 50 ms link timeout did
//     not fire within 1 s. PrepareTimeout passes &spec, the address of
//     the *Timespec argument, not the timespec; TimeoutRemove and
//     TimeoutUpdate have LinkTimeout's flaw. LinkTimeout here points addr
//     at a timespec the ring keeps.
//   - The waits (WaitCQE, WaitCQENr, WaitCQEs, WaitCQETimeout,
//     SubmitAndWait*) return EINTR when a signal arrives, and Go's runtime
//     sends SIGURG to preempt goroutines: measured, a WaitCQE and a
//     WaitCQETimeout(2 s) both returned EINTR at once on one SIGURG. They
//     return the raw ETIME errno on timeout, keep the caller's timespec
//     only as a uint64 in io_uring_getevents_arg (nothing keeps a heap
//     timespec alive for the GC during the syscall), and without
//     IORING_FEAT_EXT_ARG fall back to PrepareTimeout (above). Wait here
//     calls Enter2 itself, retries EINTR with what is left of the timeout,
//     maps ETIME to ErrTimeout, and keeps the timespec and the getevents
//     argument in the ring.
//   - PeekBatchCQE computes the last index before it clamps the count to
//     the completions ready: it fills the whole slice it is given with
//     pointers to stale slots (it returns the right count). reap never
//     asks for more than are ready.
//   - QueueExit unmaps 64-byte SQEs even with IORING_SETUP_SQE128, which
//     leaks half the SQE mapping; NewGiouring refuses SQE128 (nothing here
//     needs it), and IORING_SETUP_NO_MMAP, as New does.
//   - Params has no exported field: CreateRing and QueueInit cannot ask
//     for a CQ size, and nothing reports the features the kernel set.
//     NewGiouring hands QueueInitParams the package's own io_uring_params
//     (the kernel's layout, its size asserted against giouring's below).

// Giouring is the ring of [NewGiouring], the second backend: the methods
// of [Native], over giouring.
type Giouring struct {
	// Ring indices and memory ordering are giouring's, as liburing's:
	// the SQ tail is stored with atomic.StoreUint32 (release) when Submit
	// publishes the SQEs, the SQ head loaded with atomic.LoadUint32
	// (acquire) before a slot is reused (GetSQE), the CQ tail loaded
	// atomically before the CQEs are read (CQReady, PeekBatchCQE), the CQ
	// head stored atomically after they are copied out (CQAdvance), and
	// the SQ flags (NEED_WAKEUP, CQ_OVERFLOW, TASKRUN) loaded atomically.

	g        *giouring.Ring // nil once closed
	fd       int
	features uint32
	flags    uint32

	// scratch receives PeekBatchCQE's pointers; as long as the CQ.
	scratch []*giouring.CompletionQueueEvent

	// timespecs holds LinkTimeout's timespecs, one per SQ slot, indexed
	// by prepared modulo their number. The kernel copies a timespec when
	// it consumes the SQE (io_link_timeout_prep runs at submit); its
	// entry is written again len(timespecs) prepares later, which GetSQE
	// allows only once that SQE has been consumed.
	timespecs []unix.Timespec
	prepared  uint32

	// waitTS and waitArg are Wait's timeout (IORING_ENTER_EXT_ARG), kept
	// with the ring on the heap while io_uring_enter reads them.
	waitTS  unix.Timespec
	waitArg getEventsArg
}

var _ Ring = (*Giouring)(nil)

// giouring.Params is io_uring_params, as is the package's params: the
// same 120 bytes, so that one converts to the other.
var (
	_ [unsafe.Sizeof(giouring.Params{}) - unsafe.Sizeof(params{})]byte
	_ [unsafe.Sizeof(params{}) - unsafe.Sizeof(giouring.Params{})]byte
)

const (
	setupRegisteredFdOnly uint32 = 1 << 15

	// gioRefused are the setup flags giouring's teardown gets wrong
	// (SQE128) or that need memory of the caller's (NO_MMAP,
	// REGISTERED_FD_ONLY).
	gioRefused = setupSQE128 | setupNoMmap | setupRegisteredFdOnly
)

// NewGiouring sets up a ring like [New], over giouring (build tag
// giouring; binaries need -ldflags=-checklinkname=0). It asks for the
// same setup flags, with the same fallback, and refuses
// IORING_SETUP_SQE128 and IORING_SETUP_NO_MMAP with EINVAL.
func NewGiouring(o *Options) (*Giouring, error) {
	var opt Options
	if o != nil {
		opt = *o
	}
	if opt.Flags&gioRefused != 0 {
		return nil, fmt.Errorf("io_uring_setup: flags %#x are not supported over giouring: %w", opt.Flags&gioRefused, unix.EINVAL)
	}
	var g *giouring.Ring
	p, flags, err := setupFlags(opt, func(entries uint32, p *params) error {
		// A failed QueueInitParams closes the fd and unmaps what it
		// mapped; the next try starts from a new Ring.
		g = giouring.NewRing()
		return g.QueueInitParams(entries, (*giouring.Params)(unsafe.Pointer(p)))
	})
	if err != nil {
		return nil, err
	}
	return &Giouring{
		g:         g,
		fd:        g.RingFd(),
		features:  p.features,
		flags:     flags,
		scratch:   make([]*giouring.CompletionQueueEvent, p.cqEntries),
		timespecs: make([]unix.Timespec, p.sqEntries),
	}, nil
}

// Close implements Ring. giouring's QueueExit reports no error.
func (r *Giouring) Close() error {
	if r.g == nil {
		return nil
	}
	r.g.QueueExit()
	r.g, r.fd = nil, -1
	return nil
}

// Fd is [Native.Fd].
func (r *Giouring) Fd() int { return r.fd }

// Features implements Ring.
func (r *Giouring) Features() uint32 { return r.features }

// SQSpace is [Native.SQSpace].
func (r *Giouring) SQSpace() int {
	if r.g == nil {
		return 0
	}
	return int(r.g.SQSpaceLeft())
}

// next claims the SQE at the tail, zeroed: giouring's prepares leave
// fields of the slot's previous request in place (see the top of the
// file). The caller prepares it, then sets o with set.
func (r *Giouring) next() (*giouring.SubmissionQueueEntry, error) {
	if r.g == nil {
		return nil, ErrClosed
	}
	e := r.g.GetSQE()
	if e == nil {
		return nil, ErrQueueFull
	}
	r.prepared++
	*e = giouring.SubmissionQueueEntry{}
	return e, nil
}

// set gives a prepared SQE o's user data and flags; the prepares reset
// the flags.
func set(e *giouring.SubmissionQueueEntry, o Op) {
	e.UserData = o.UserData
	e.Flags = o.Flags
}

// buffer checks b's length and returns the address and length of its
// data, 0 and 0 for an empty b.
func buffer(b []byte) (uintptr, uint32, error) {
	if uint64(len(b)) > math.MaxUint32 {
		return 0, 0, errTooLarge
	}
	return uintptr(unsafe.Pointer(unsafe.SliceData(b))), uint32(len(b)), nil
}

// Nop is [Native.Nop].
func (r *Giouring) Nop(o Op) error {
	e, err := r.next()
	if err != nil {
		return err
	}
	e.PrepareNop()
	set(e, o)
	return nil
}

// Send implements Ring.
func (r *Giouring) Send(o Op, fd int, b []byte, msgFlags int) error {
	addr, n, err := buffer(b)
	if err != nil {
		return err
	}
	e, err := r.next()
	if err != nil {
		return err
	}
	e.PrepareSend(fd, addr, n, msgFlags)
	set(e, o)
	return nil
}

// sendZC prepares a SEND_ZC of b. Not with giouring's PrepareSendZC,
// which sends the bytes of b's slice header and beyond instead of b's
// (see the top of the file): a SEND carries the same fields but the
// opcode and ioprio, so it prepares a SEND and changes those.
func (r *Giouring) sendZC(o Op, fd int, b []byte, msgFlags int, ioprio uint16, bufIndex uint16) error {
	addr, n, err := buffer(b)
	if err != nil {
		return err
	}
	e, err := r.next()
	if err != nil {
		return err
	}
	e.PrepareSend(fd, addr, n, msgFlags)
	e.OpCode = giouring.OpSendZC
	e.IoPrio = ioprio
	e.BufIG = bufIndex
	set(e, o)
	return nil
}

// SendZC implements Ring.
func (r *Giouring) SendZC(o Op, fd int, b []byte, msgFlags int, zcFlags uint16) error {
	return r.sendZC(o, fd, b, msgFlags, zcFlags, 0)
}

// SendZCFixed is [Native.SendZCFixed].
func (r *Giouring) SendZCFixed(o Op, fd int, b []byte, msgFlags int, zcFlags uint16, bufIndex uint16) error {
	return r.sendZC(o, fd, b, msgFlags, zcFlags|recvSendFixedBuf, bufIndex)
}

// SendMsg implements Ring.
func (r *Giouring) SendMsg(o Op, fd int, msg *Msghdr, msgFlags int) error {
	e, err := r.next()
	if err != nil {
		return err
	}
	// unix.Msghdr and syscall.Msghdr are both struct msghdr.
	e.PrepareSendMsg(fd, (*syscall.Msghdr)(unsafe.Pointer(msg)), uint32(msgFlags))
	set(e, o)
	return nil
}

// Recv implements Ring.
func (r *Giouring) Recv(o Op, fd int, b []byte, msgFlags int) error {
	addr, n, err := buffer(b)
	if err != nil {
		return err
	}
	e, err := r.next()
	if err != nil {
		return err
	}
	e.PrepareRecv(fd, addr, n, msgFlags)
	set(e, o)
	return nil
}

// Read is [Native.Read].
func (r *Giouring) Read(o Op, fd int, b []byte, off uint64) error {
	addr, n, err := buffer(b)
	if err != nil {
		return err
	}
	e, err := r.next()
	if err != nil {
		return err
	}
	e.PrepareRead(fd, addr, n, off)
	set(e, o)
	return nil
}

// Write is [Native.Write].
func (r *Giouring) Write(o Op, fd int, b []byte, off uint64) error {
	addr, n, err := buffer(b)
	if err != nil {
		return err
	}
	e, err := r.next()
	if err != nil {
		return err
	}
	e.PrepareWrite(fd, addr, n, off)
	set(e, o)
	return nil
}

// ReadFixed is [Native.ReadFixed].
func (r *Giouring) ReadFixed(o Op, fd int, b []byte, off uint64, bufIndex uint16) error {
	addr, n, err := buffer(b)
	if err != nil {
		return err
	}
	e, err := r.next()
	if err != nil {
		return err
	}
	e.PrepareReadFixed(fd, addr, n, off, int(bufIndex))
	set(e, o)
	return nil
}

// WriteFixed is [Native.WriteFixed].
func (r *Giouring) WriteFixed(o Op, fd int, b []byte, off uint64, bufIndex uint16) error {
	addr, n, err := buffer(b)
	if err != nil {
		return err
	}
	e, err := r.next()
	if err != nil {
		return err
	}
	e.PrepareWriteFixed(fd, addr, n, off, int(bufIndex))
	set(e, o)
	return nil
}

// Splice is [Native.Splice].
func (r *Giouring) Splice(o Op, fdIn int, offIn int64, fdOut int, offOut int64, n uint32, flags uint32) error {
	e, err := r.next()
	if err != nil {
		return err
	}
	e.PrepareSplice(fdIn, offIn, fdOut, offOut, n, flags)
	set(e, o)
	return nil
}

// LinkTimeout is [Native.LinkTimeout]. PrepareLinkTimeout leaves sqe->addr
// pointing into its own dead stack frame (see the top of the file): addr
// is pointed at the ring's timespec for the slot instead.
func (r *Giouring) LinkTimeout(o Op, d time.Duration) error {
	e, err := r.next()
	if err != nil {
		return err
	}
	ts := &r.timespecs[(r.prepared-1)%uint32(len(r.timespecs))]
	*ts = unix.NsecToTimespec(int64(d))
	e.PrepareLinkTimeout(d, 0)
	e.Addr = uint64(uintptr(unsafe.Pointer(ts)))
	set(e, o)
	return nil
}

// Cancel is [Native.Cancel].
func (r *Giouring) Cancel(o Op, target uint64, flags uint32) error {
	e, err := r.next()
	if err != nil {
		return err
	}
	e.PrepareCancel64(target, int(flags))
	set(e, o)
	return nil
}

// CancelFD implements Ring.
func (r *Giouring) CancelFD(o Op, fd int, flags uint32) error {
	e, err := r.next()
	if err != nil {
		return err
	}
	e.PrepareCancelFd(fd, flags)
	set(e, o)
	return nil
}

// submit is giouring's Submit retried on EINTR. Submit publishes the
// prepared SQEs, then enters the kernel if there is any to submit, or
// with IORING_ENTER_GETEVENTS (min_complete 0) if the SQ flags say
// IORING_SQ_TASKRUN or IORING_SQ_CQ_OVERFLOW, so it runs pending task work
// and flushes overflowed completions even with nothing to submit. EINTR
// means the kernel took nothing (it would have said how many), and
// Submit's next call counts the SQEs not yet consumed again.
func (r *Giouring) submit() (int, error) {
	for {
		n, err := r.g.Submit()
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return int(n), err
	}
}

// Submit implements Ring. A kernel that cannot take the requests for now
// (EBUSY, EAGAIN: too many completions not reaped) fails it with the
// requests still queued: reap with Wait, which submits them again.
func (r *Giouring) Submit() (int, error) {
	if r.g == nil {
		return 0, ErrClosed
	}
	n, err := r.submit()
	if err != nil {
		return 0, fmt.Errorf("io_uring_enter: %w", err)
	}
	return n, nil
}

// Wait implements Ring. It submits with submit (which runs pending task
// work and flushes overflowed completions when the SQ flags ask for it,
// even with min 0), reaps, and waits with its own io_uring_enter (Enter2)
// for what min still lacks; a timeout needs IORING_FEAT_EXT_ARG (Linux
// 5.11). With requests to submit and a completion to wait for, that is
// two io_uring_enter calls where New's backend makes one: giouring
// publishes the SQ tail only inside its Submit calls.
func (r *Giouring) Wait(cqes []CQE, min int, timeout time.Duration) (int, error) {
	if r.g == nil {
		return 0, ErrClosed
	}
	deadline, err := waitDeadline(len(cqes), min, timeout, r.features)
	if err != nil {
		return 0, err
	}
	n, submitted := 0, false
	for {
		if !submitted || r.g.SQReady() > 0 {
			_, err := r.submit()
			switch {
			case err == nil:
				submitted = true
			case errors.Is(err, unix.EBUSY), errors.Is(err, unix.EAGAIN):
				// Too many completions not reaped: reap, then submit
				// again.
				k := r.reap(cqes[n:])
				n += k
				if n >= min {
					return n, nil // the rest stays queued for the next call
				}
				if k == 0 {
					return n, fmt.Errorf("io_uring_enter: %w", err)
				}
				continue
			default:
				return n, fmt.Errorf("io_uring_enter: %w", err)
			}
		}
		n += r.reap(cqes[n:])
		if n >= min {
			return n, nil
		}
		flags := giouring.EnterGetEvents
		var arg unsafe.Pointer
		var argSz int
		if !deadline.IsZero() {
			left := time.Until(deadline)
			if left <= 0 {
				return n, ErrTimeout
			}
			r.waitTS = unix.NsecToTimespec(int64(left))
			r.waitArg = getEventsArg{ts: uint64(uintptr(unsafe.Pointer(&r.waitTS)))}
			arg, argSz = unsafe.Pointer(&r.waitArg), int(unsafe.Sizeof(r.waitArg))
			flags |= giouring.EnterExtArg
		}
		_, err := r.g.Enter2(0, uint32(min-n), flags, arg, argSz)
		switch {
		case err == nil, errors.Is(err, unix.EINTR):
			// EINTR: a signal (SIGURG from Go's preemption, say) ended the
			// wait; it goes on with what is left of the timeout.
		case errors.Is(err, unix.ETIME):
			n += r.reap(cqes[n:])
			if n >= min {
				return n, nil
			}
			return n, ErrTimeout
		default:
			return n, fmt.Errorf("io_uring_enter: %w", err)
		}
	}
}

// reap copies the ready completions into cqes, as many as fit, and hands
// their slots back to the kernel. It asks PeekBatchCQE for no more than
// CQReady says are ready: asked for more, PeekBatchCQE walks past them
// (see the top of the file). With none ready it does not call it at all,
// which would enter the kernel on IORING_SQ_TASKRUN: submit did that.
func (r *Giouring) reap(cqes []CQE) int {
	k := uint32(len(cqes))
	k = uint32(min(k, r.g.CQReady(), uint32(len(r.scratch))))
	if k == 0 {
		return 0
	}
	got := r.g.PeekBatchCQE(r.scratch[:k])
	for i, c := range r.scratch[:got] {
		cqes[i] = CQE{UserData: c.UserData, Res: c.Res, Flags: c.Flags}
	}
	r.g.CQAdvance(got)
	return int(got)
}

// RegisterBuffers is [Native.RegisterBuffers].
func (r *Giouring) RegisterBuffers(bufs [][]byte) error {
	if r.g == nil {
		return ErrClosed
	}
	if len(bufs) == 0 {
		// giouring's RegisterBuffers indexes iovecs[0].
		return fmt.Errorf("register buffers: none: %w", unix.EINVAL)
	}
	iov := make([]syscall.Iovec, len(bufs))
	for i, b := range bufs {
		iov[i].Base = unsafe.SliceData(b)
		iov[i].SetLen(len(b))
	}
	if _, err := r.g.RegisterBuffers(iov); err != nil {
		return fmt.Errorf("register buffers: %w", err)
	}
	return nil
}

// UnregisterBuffers is [Native.UnregisterBuffers].
func (r *Giouring) UnregisterBuffers() error {
	if r.g == nil {
		return ErrClosed
	}
	if _, err := r.g.UnregisterBuffers(); err != nil {
		return fmt.Errorf("unregister buffers: %w", err)
	}
	return nil
}

// Probe implements Ring.
func (r *Giouring) Probe() (*Probe, error) {
	if r.g == nil {
		return nil, ErrClosed
	}
	p, err := r.g.GetProbeRing()
	if err != nil {
		return nil, fmt.Errorf("register probe: %w", err)
	}
	res := &Probe{LastOp: p.LastOp}
	for _, op := range p.Ops[:p.OpsLen] {
		if op.Flags&ioOpSupported != 0 {
			res.set(op.Op)
		}
	}
	return res, nil
}
