//go:build linux

package ring

import (
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Native is the ring of [New], the default backend: io_uring over raw
// syscalls and the three shared mappings the kernel hands out at setup.
// Besides [Ring]'s methods it has those the transport does not use, for
// tests and the conformance suite (package ringtest).
type Native struct {
	// Ring indices and memory ordering. Each ring has a head and a tail;
	// the producer writes the tail, the consumer the head, and each side
	// reads the other's index in the mapped memory:
	//
	//   - SQ tail: ours. Prepared SQEs are published by storing it with
	//     release semantics (atomic.StoreUint32) after the SQEs are
	//     written, so the kernel never sees a half-written entry. Until
	//     Submit or Wait the new tail lives only in Native.tail.
	//   - SQ head: the kernel's, advanced when it consumes SQEs; loaded
	//     with acquire semantics (atomic.LoadUint32) before a slot is
	//     reused.
	//   - CQ tail: the kernel's, loaded with acquire semantics before
	//     reading the CQEs below it.
	//   - CQ head: ours, stored with release semantics after the CQEs are
	//     copied out, which hands their slots back to the kernel.
	//   - SQ flags (IORING_SQ_NEED_WAKEUP, _CQ_OVERFLOW, _TASKRUN) are the
	//     kernel's, loaded atomically.
	//
	// Go's sync/atomic loads and stores are sequentially consistent, which
	// is at least acquire and release.

	fd       int
	closed   bool
	flags    uint32 // the IORING_SETUP_* flags the kernel accepted
	features uint32

	// The mappings; cqMem is nil with IORING_FEAT_SINGLE_MMAP, where the
	// CQ ring shares the SQ ring's.
	sqMem, cqMem, sqeMem []byte

	sqHead, sqTail, sqFlags *uint32
	sqMask, sqEntries       uint32
	sqes                    unsafe.Pointer // sqEntries SQEs of 1<<sqeShift bytes
	sqeShift                uint
	tail                    uint32 // the SQ tail including prepared, unpublished SQEs

	cqHead, cqTail *uint32
	cqMask         uint32
	cqes           unsafe.Pointer // CQEs of 1<<cqeShift bytes
	cqeShift       uint

	// timespecs holds LinkTimeout's timespec for each SQ slot. The kernel
	// copies it when it consumes the SQE (io_link_timeout_prep runs at
	// submit), so it must live until then; the slot is reused only after
	// that.
	timespecs []unix.Timespec
	// waitTS and waitArg are Wait's timeout (IORING_ENTER_EXT_ARG), kept
	// with the ring on the heap while io_uring_enter reads them.
	waitTS  unix.Timespec
	waitArg getEventsArg
}

// newFault, when set (by tests), fails New at the named step after the
// ring's fd exists, to prove the error paths leak nothing.
var newFault func(step string) error

// New sets up an io_uring instance (Linux 5.1; the backend needs 5.6 for
// the operations it prepares, 5.11 for Wait with a timeout). o nil means
// the defaults.
//
// The error of a failed setup wraps the errno: errors.Is(err, unix.ENOSYS)
// where the kernel has no io_uring (errors.ErrUnsupported matches it too,
// as it matches New's error on systems other than Linux), unix.EPERM where
// it is disabled (kernel.io_uring_disabled, seccomp), unix.ENOMEM past
// RLIMIT_MEMLOCK on older kernels.
func New(o *Options) (*Native, error) {
	var opt Options
	if o != nil {
		opt = *o
	}
	if opt.Flags&setupNoMmap != 0 {
		return nil, fmt.Errorf("io_uring_setup: IORING_SETUP_NO_MMAP is not supported: %w", unix.EINVAL)
	}
	var fd int
	p, flags, err := setupFlags(opt, func(entries uint32, p *params) (err error) {
		fd, err = setup(entries, p)
		return err
	})
	if err != nil {
		return nil, err
	}
	r := &Native{fd: fd, flags: flags, features: p.features}
	if err := r.mapRings(&p); err != nil {
		r.unmap()
		unix.Close(fd)
		return nil, err
	}
	return r, nil
}

// mapRings maps the SQ and CQ rings and the SQE array and points the
// ring's fields into them.
func (r *Native) mapRings(p *params) error {
	r.sqeShift, r.cqeShift = 6, 4
	if r.flags&setupSQE128 != 0 {
		r.sqeShift = 7
	}
	if r.flags&setupCQE32 != 0 {
		r.cqeShift = 5
	}
	sqSize := int(p.sqOff.array) + int(p.sqEntries)*4
	cqSize := int(p.cqOff.cqes) + int(p.cqEntries)<<r.cqeShift
	single := p.features&FeatSingleMmap != 0
	if single {
		sqSize = max(sqSize, cqSize)
	}
	var err error
	if r.sqMem, err = r.mmap("sq ring", offSQRing, sqSize); err != nil {
		return err
	}
	cq := r.sqMem
	if !single {
		if r.cqMem, err = r.mmap("cq ring", offCQRing, cqSize); err != nil {
			return err
		}
		cq = r.cqMem
	}
	if r.sqeMem, err = r.mmap("sqes", offSQEs, int(p.sqEntries)<<r.sqeShift); err != nil {
		return err
	}

	at := func(mem []byte, off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&mem[off])) }
	r.sqHead, r.sqTail, r.sqFlags = at(r.sqMem, p.sqOff.head), at(r.sqMem, p.sqOff.tail), at(r.sqMem, p.sqOff.flags)
	r.sqMask, r.sqEntries = *at(r.sqMem, p.sqOff.ringMask), *at(r.sqMem, p.sqOff.ringEntries)
	r.sqes = unsafe.Pointer(&r.sqeMem[0])
	r.tail = atomic.LoadUint32(r.sqTail)
	if r.flags&setupNoArray == 0 {
		// SQ slot i holds SQE i, for good: prepare writes SQEs in ring
		// order.
		array := unsafe.Slice(at(r.sqMem, p.sqOff.array), r.sqEntries)
		for i := range array {
			array[i] = uint32(i)
		}
	}
	r.cqHead, r.cqTail = at(cq, p.cqOff.head), at(cq, p.cqOff.tail)
	r.cqMask = *at(cq, p.cqOff.ringMask)
	r.cqes = unsafe.Pointer(&cq[p.cqOff.cqes])
	r.timespecs = make([]unix.Timespec, r.sqEntries)
	return nil
}

func (r *Native) mmap(what string, off int64, size int) ([]byte, error) {
	if newFault != nil {
		if err := newFault("mmap " + what); err != nil {
			return nil, err
		}
	}
	b, err := unix.Mmap(r.fd, off, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return nil, fmt.Errorf("mmap %s: %w", what, err)
	}
	return b, nil
}

// unmap unmaps what mapRings mapped.
func (r *Native) unmap() error {
	var errs []error
	for _, m := range []*[]byte{&r.sqeMem, &r.cqMem, &r.sqMem} {
		if *m == nil {
			continue
		}
		if err := unix.Munmap(*m); err != nil {
			errs = append(errs, fmt.Errorf("munmap: %w", err))
		}
		*m = nil
	}
	r.sqHead, r.sqTail, r.sqFlags, r.cqHead, r.cqTail = nil, nil, nil, nil, nil
	r.sqes, r.cqes = nil, nil
	return errors.Join(errs...)
}

// Close implements Ring.
func (r *Native) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	err := r.unmap()
	if cerr := unix.Close(r.fd); cerr != nil {
		err = errors.Join(err, fmt.Errorf("close ring: %w", cerr))
	}
	r.fd = -1
	return err
}

// Fd is the ring's file descriptor; -1 after Close.
func (r *Native) Fd() int { return r.fd }

// Features implements Ring.
func (r *Native) Features() uint32 { return r.features }

// SQSpace is how many entries can be prepared before ErrQueueFull; 0
// after Close.
func (r *Native) SQSpace() int {
	if r.closed {
		return 0
	}
	return int(r.sqEntries - (r.tail - atomic.LoadUint32(r.sqHead)))
}

// next claims the SQE at the tail, zeroed but for o, opcode and fd.
func (r *Native) next(o Op, opcode uint8, fd int) (*sqe, uint32, error) {
	if r.closed {
		return nil, 0, ErrClosed
	}
	if r.tail-atomic.LoadUint32(r.sqHead) >= r.sqEntries {
		return nil, 0, ErrQueueFull
	}
	i := r.tail & r.sqMask
	e := (*sqe)(unsafe.Add(r.sqes, uintptr(i)<<r.sqeShift))
	*e = sqe{opcode: opcode, flags: o.Flags, fd: int32(fd), userData: o.UserData}
	r.tail++
	return e, i, nil
}

var errTooLarge = errors.New("buffer of 4 GiB or more")

// buffer prepares the SQE of an operation on b: addr and len, 0 and 0 for
// an empty b.
func (r *Native) buffer(o Op, opcode uint8, fd int, b []byte) (*sqe, error) {
	if uint64(len(b)) > math.MaxUint32 {
		return nil, errTooLarge
	}
	e, _, err := r.next(o, opcode, fd)
	if err != nil {
		return nil, err
	}
	if len(b) > 0 {
		e.addr = uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
		e.len = uint32(len(b))
	}
	return e, nil
}

// Nop queues a request that completes at once with res 0.
func (r *Native) Nop(o Op) error {
	_, _, err := r.next(o, OpNop, -1)
	return err
}

// Send implements Ring.
func (r *Native) Send(o Op, fd int, b []byte, msgFlags int) error {
	e, err := r.buffer(o, OpSend, fd, b)
	if err != nil {
		return err
	}
	e.opFlags = uint32(msgFlags)
	return nil
}

// SendZC implements Ring.
func (r *Native) SendZC(o Op, fd int, b []byte, msgFlags int, zcFlags uint16) error {
	e, err := r.buffer(o, OpSendZC, fd, b)
	if err != nil {
		return err
	}
	e.ioprio = zcFlags
	e.opFlags = uint32(msgFlags)
	return nil
}

// SendZCFixed is SendZC from the registered buffer bufIndex, which must
// contain b.
func (r *Native) SendZCFixed(o Op, fd int, b []byte, msgFlags int, zcFlags uint16, bufIndex uint16) error {
	e, err := r.buffer(o, OpSendZC, fd, b)
	if err != nil {
		return err
	}
	e.ioprio = zcFlags | recvSendFixedBuf
	e.opFlags = uint32(msgFlags)
	e.bufIndex = bufIndex
	return nil
}

// SendMsg implements Ring.
func (r *Native) SendMsg(o Op, fd int, msg *Msghdr, msgFlags int) error {
	e, _, err := r.next(o, OpSendMsg, fd)
	if err != nil {
		return err
	}
	e.addr = uint64(uintptr(unsafe.Pointer(msg)))
	e.len = 1
	e.opFlags = uint32(msgFlags)
	return nil
}

// Recv implements Ring.
func (r *Native) Recv(o Op, fd int, b []byte, msgFlags int) error {
	e, err := r.buffer(o, OpRecv, fd, b)
	if err != nil {
		return err
	}
	e.opFlags = uint32(msgFlags)
	return nil
}

// Read queues pread(fd, b, off) (IORING_OP_READ, 5.6); off ^uint64(0)
// means the file position.
func (r *Native) Read(o Op, fd int, b []byte, off uint64) error {
	e, err := r.buffer(o, OpRead, fd, b)
	if err != nil {
		return err
	}
	e.off = off
	return nil
}

// Write queues pwrite(fd, b, off) (IORING_OP_WRITE, 5.6); off
// ^uint64(0) means the file position.
func (r *Native) Write(o Op, fd int, b []byte, off uint64) error {
	e, err := r.buffer(o, OpWrite, fd, b)
	if err != nil {
		return err
	}
	e.off = off
	return nil
}

// ReadFixed is Read with the registered buffer bufIndex, which must
// contain b (IORING_OP_READ_FIXED).
func (r *Native) ReadFixed(o Op, fd int, b []byte, off uint64, bufIndex uint16) error {
	e, err := r.buffer(o, OpReadFixed, fd, b)
	if err != nil {
		return err
	}
	e.off = off
	e.bufIndex = bufIndex
	return nil
}

// WriteFixed is Write with the registered buffer bufIndex, which must
// contain b (IORING_OP_WRITE_FIXED).
func (r *Native) WriteFixed(o Op, fd int, b []byte, off uint64, bufIndex uint16) error {
	e, err := r.buffer(o, OpWriteFixed, fd, b)
	if err != nil {
		return err
	}
	e.off = off
	e.bufIndex = bufIndex
	return nil
}

// Splice queues splice(fdIn, offIn, fdOut, offOut, n, flags)
// (IORING_OP_SPLICE, 5.7); an offset of -1 means none (a pipe or
// socket).
func (r *Native) Splice(o Op, fdIn int, offIn int64, fdOut int, offOut int64, n uint32, flags uint32) error {
	e, _, err := r.next(o, OpSplice, fdOut)
	if err != nil {
		return err
	}
	e.spliceFdIn = int32(fdIn)
	e.addr = uint64(offIn)
	e.off = uint64(offOut)
	e.len = n
	e.opFlags = flags
	return nil
}

// LinkTimeout queues a timeout for the request queued just before it,
// which must carry SQEIOLink (IORING_OP_LINK_TIMEOUT, 5.5): if that
// request has not completed after d, it is cancelled (its res is
// -ECANCELED, the timeout's -ETIME); otherwise the timeout completes with
// -ECANCELED. The ring keeps the timespec until it completes.
func (r *Native) LinkTimeout(o Op, d time.Duration) error {
	e, i, err := r.next(o, OpLinkTimeout, -1)
	if err != nil {
		return err
	}
	ts := &r.timespecs[i]
	*ts = unix.NsecToTimespec(int64(d))
	e.addr = uint64(uintptr(unsafe.Pointer(ts)))
	e.len = 1
	return nil
}

// Cancel queues IORING_OP_ASYNC_CANCEL (5.5) of the request whose user
// data is target; flags are CancelAll and friends. It completes with 0,
// -ENOENT (nothing found) or -EALREADY (already running).
func (r *Native) Cancel(o Op, target uint64, flags uint32) error {
	e, _, err := r.next(o, OpAsyncCancel, -1)
	if err != nil {
		return err
	}
	e.addr = target
	e.opFlags = flags
	return nil
}

// CancelFD implements Ring.
func (r *Native) CancelFD(o Op, fd int, flags uint32) error {
	e, _, err := r.next(o, OpAsyncCancel, fd)
	if err != nil {
		return err
	}
	e.opFlags = flags | CancelFD
	return nil
}

// publish makes the prepared SQEs visible to the kernel and returns how
// many it has not consumed yet.
func (r *Native) publish() uint32 {
	atomic.StoreUint32(r.sqTail, r.tail)
	return r.tail - atomic.LoadUint32(r.sqHead)
}

// wakeup is the io_uring_enter flag an SQPOLL ring needs to have its
// kernel thread woken, 0 otherwise.
func (r *Native) wakeup() uint32 {
	if r.flags&setupSQPoll != 0 && atomic.LoadUint32(r.sqFlags)&sqNeedWakeup != 0 {
		return enterSQWakeup
	}
	return 0
}

// Submit implements Ring. On an IORING_SETUP_SQPOLL ring it returns how
// many requests the kernel thread has yet to take, and waits for a free
// entry if there is none. A kernel that cannot take the requests for
// now (EBUSY, EAGAIN: too many completions not reaped) fails it with the
// requests still queued: reap with Wait, which submits them again.
func (r *Native) Submit() (int, error) {
	if r.closed {
		return 0, ErrClosed
	}
	n := r.publish()
	if n == 0 {
		return 0, nil
	}
	if r.flags&setupSQPoll != 0 {
		// The kernel thread takes them: wake it if it sleeps, and wait
		// for it to free an entry if there is none, so that the caller
		// can prepare again.
		flags := r.wakeup()
		if n >= r.sqEntries {
			flags |= enterSQWait
		}
		if flags != 0 {
			if _, errno := enter(r.fd, 0, 0, flags, nil); errno != 0 && errno != unix.EINTR {
				return 0, fmt.Errorf("io_uring_enter: %w", errno)
			}
		}
		return int(n), nil
	}
	for {
		got, errno := enter(r.fd, n, 0, 0, nil)
		switch errno {
		case 0:
			return got, nil
		case unix.EINTR:
			// Nothing was submitted, or the kernel would have said how
			// many.
			continue
		}
		return 0, fmt.Errorf("io_uring_enter: %w", errno)
	}
}

var errWaitMin = errors.New("wait: min out of range [0, len(cqes)]")

// Wait implements Ring.
//
// It enters the kernel only when it must: to submit, to wait for min, or
// to run pending task work (IORING_SQ_TASKRUN, set with
// IORING_SETUP_TASKRUN_FLAG) and flush overflowed completions
// (IORING_SQ_CQ_OVERFLOW) even when min is 0. A timeout needs
// IORING_FEAT_EXT_ARG (Linux 5.11).
func (r *Native) Wait(cqes []CQE, min int, timeout time.Duration) (int, error) {
	if r.closed {
		return 0, ErrClosed
	}
	deadline, err := waitDeadline(len(cqes), min, timeout, r.features)
	if err != nil {
		return 0, err
	}
	toSubmit := r.publish()
	if r.flags&setupSQPoll != 0 {
		toSubmit = 0 // the kernel thread submits
	}
	n, entered := 0, false
	for {
		n += r.peek(cqes[n:])
		need := n < min
		sqFlags := atomic.LoadUint32(r.sqFlags)
		if !need && (toSubmit == 0 || entered) &&
			(entered || n == len(cqes) || sqFlags&(sqTaskrun|sqCQOverflow) == 0) {
			return n, nil
		}
		flags := r.wakeup()
		var minComplete uint32
		var arg *getEventsArg
		if need || sqFlags&(sqTaskrun|sqCQOverflow) != 0 {
			flags |= enterGetEvents
		}
		if need {
			minComplete = uint32(min - n)
			if !deadline.IsZero() {
				left := time.Until(deadline)
				if left <= 0 {
					return n, ErrTimeout
				}
				r.waitTS = unix.NsecToTimespec(int64(left))
				r.waitArg = getEventsArg{ts: uint64(uintptr(unsafe.Pointer(&r.waitTS)))}
				arg = &r.waitArg
				flags |= enterExtArg
			}
		}
		_, errno := enter(r.fd, toSubmit, minComplete, flags, arg)
		entered = true
		switch errno {
		case 0, unix.EINTR:
			// EINTR: a signal (SIGURG from Go's preemption, say) ended the
			// wait; it goes on with what is left of the timeout.
		case unix.ETIME:
			n += r.peek(cqes[n:])
			if n >= min {
				return n, nil
			}
			return n, ErrTimeout
		case unix.EBUSY, unix.EAGAIN:
			// Too many completions not reaped: reap, then submit again.
			k := r.peek(cqes[n:])
			n += k
			if n >= min {
				return n, nil // the rest stays queued for the next call
			}
			if k == 0 {
				return n, fmt.Errorf("io_uring_enter: %w", errno)
			}
			entered = false
		default:
			return n, fmt.Errorf("io_uring_enter: %w", errno)
		}
		if r.flags&setupSQPoll == 0 {
			toSubmit = r.tail - atomic.LoadUint32(r.sqHead)
		}
	}
}

// peek copies the ready completions into cqes, as many as fit, and hands
// their slots back to the kernel.
func (r *Native) peek(cqes []CQE) int {
	head := atomic.LoadUint32(r.cqHead)
	tail := atomic.LoadUint32(r.cqTail)
	n := 0
	for ; head != tail && n < len(cqes); head, n = head+1, n+1 {
		c := (*cqe)(unsafe.Add(r.cqes, uintptr(head&r.cqMask)<<r.cqeShift))
		cqes[n] = CQE{UserData: c.userData, Res: c.res, Flags: c.flags}
	}
	if n > 0 {
		atomic.StoreUint32(r.cqHead, head)
	}
	return n
}

// RegisterBuffers registers bufs as fixed buffers 0..len-1
// (IORING_REGISTER_BUFFERS): the kernel pins their pages. The memory must
// stay alive until UnregisterBuffers or Close.
func (r *Native) RegisterBuffers(bufs [][]byte) error {
	if r.closed {
		return ErrClosed
	}
	iov := make([]unix.Iovec, len(bufs))
	for i, b := range bufs {
		iov[i].Base = unsafe.SliceData(b)
		iov[i].SetLen(len(b))
	}
	if err := register(r.fd, registerBuffers, unsafe.Pointer(unsafe.SliceData(iov)), uint32(len(iov))); err != nil {
		return fmt.Errorf("register buffers: %w", err)
	}
	return nil
}

// UnregisterBuffers unregisters the fixed buffers
// (IORING_UNREGISTER_BUFFERS).
func (r *Native) UnregisterBuffers() error {
	if r.closed {
		return ErrClosed
	}
	if err := register(r.fd, unregisterBuffers, nil, 0); err != nil {
		return fmt.Errorf("unregister buffers: %w", err)
	}
	return nil
}

// Probe implements Ring.
func (r *Native) Probe() (*Probe, error) {
	if r.closed {
		return nil, ErrClosed
	}
	p := new(probe)
	if err := register(r.fd, registerProbe, unsafe.Pointer(p), uint32(len(p.ops))); err != nil {
		return nil, fmt.Errorf("register probe: %w", err)
	}
	res := &Probe{LastOp: p.lastOp}
	for _, op := range p.ops[:p.opsLen] {
		if op.flags&ioOpSupported != 0 {
			res.set(op.op)
		}
	}
	return res, nil
}

// waitDeadline checks Wait's arguments, for both backends, and returns
// when its wait ends: never (the zero time) without a timeout or with min
// 0.
func waitDeadline(ncqes, min int, timeout time.Duration, features uint32) (time.Time, error) {
	if min < 0 || min > ncqes {
		return time.Time{}, errWaitMin
	}
	if timeout <= 0 || min == 0 {
		return time.Time{}, nil
	}
	if features&FeatExtArg == 0 {
		return time.Time{}, fmt.Errorf("wait with a timeout: IORING_FEAT_EXT_ARG (Linux 5.11): %w", unix.EOPNOTSUPP)
	}
	return time.Now().Add(timeout), nil
}

// setupFlags sets up a ring with try, for both backends: the entries of
// opt (DefaultEntries if none), a CQ twice the SQ, and the flags every
// ring asks for plus opt.Flags; on EINVAL it tries again without the
// newer flags the caller did not ask for, in this order: COOP_TASKRUN
// with TASKRUN_FLAG (5.19), then SUBMIT_ALL (5.18). It returns the
// kernel's params and the flags that were accepted.
func setupFlags(opt Options, try func(entries uint32, p *params) error) (params, uint32, error) {
	entries := opt.Entries
	if entries == 0 {
		entries = DefaultEntries
	}
	newer := []uint32{SetupCoopTaskrun | SetupTaskrunFlag, SetupSubmitAll}
	flags := SetupClamp | setupCQSize | SetupSubmitAll | SetupCoopTaskrun | SetupTaskrunFlag | opt.Flags
	for i := 0; ; i++ {
		p := params{flags: flags, cqEntries: uint32(min(2*uint64(entries), math.MaxUint32))}
		err := try(entries, &p)
		if err == nil {
			return p, flags, nil
		}
		if !errors.Is(err, unix.EINVAL) || i == len(newer) {
			return params{}, 0, fmt.Errorf("io_uring_setup: %w", err)
		}
		flags &^= newer[i] &^ opt.Flags
	}
}
