//go:build linux

package ring

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The kernel ABI of io_uring (include/uapi/linux/io_uring.h) as far as the
// native backend uses it. golang.org/x/sys/unix has the syscall numbers but
// none of the structures.

// sqe is struct io_uring_sqe: 64 bytes, the unions named by the member
// this package uses.
type sqe struct {
	opcode      uint8
	flags       uint8  // IOSQE_*
	ioprio      uint16 // also SEND/RECV/SEND_ZC flags (IORING_RECVSEND_*)
	fd          int32
	off         uint64 // also addr2
	addr        uint64 // also splice_off_in
	len         uint32
	opFlags     uint32 // msg_flags, rw_flags, timeout_flags, cancel_flags, splice_flags
	userData    uint64
	bufIndex    uint16
	personality uint16
	spliceFdIn  int32 // also file_index
	addr3       uint64
	_           uint64
}

// cqe is struct io_uring_cqe (16 bytes; 32 with IORING_SETUP_CQE32).
type cqe struct {
	userData uint64
	res      int32
	flags    uint32
}

// The layouts must be the kernel's to the byte.
var (
	_ [64 - unsafe.Sizeof(sqe{})]byte
	_ [unsafe.Sizeof(sqe{}) - 64]byte
	_ [16 - unsafe.Sizeof(cqe{})]byte
	_ [unsafe.Sizeof(cqe{}) - 16]byte
	_ [120 - unsafe.Sizeof(params{})]byte
	_ [unsafe.Sizeof(params{}) - 120]byte
	_ [24 - unsafe.Sizeof(getEventsArg{})]byte
	_ [unsafe.Sizeof(getEventsArg{}) - 24]byte
	_ [2064 - unsafe.Sizeof(probe{})]byte
	_ [unsafe.Sizeof(probe{}) - 2064]byte
)

// params is struct io_uring_params, io_uring_setup's argument and result.
type params struct {
	sqEntries    uint32
	cqEntries    uint32
	flags        uint32
	sqThreadCPU  uint32
	sqThreadIdle uint32
	features     uint32
	wqFd         uint32
	_            [3]uint32
	sqOff        sqringOffsets
	cqOff        cqringOffsets
}

// sqringOffsets is struct io_sqring_offsets: where the SQ ring's fields
// sit in its mapping.
type sqringOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, _ uint32
	userAddr                                                    uint64
}

// cqringOffsets is struct io_cqring_offsets.
type cqringOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, _ uint32
	userAddr                                                    uint64
}

// getEventsArg is struct io_uring_getevents_arg (IORING_ENTER_EXT_ARG).
type getEventsArg struct {
	sigmask   uint64
	sigmaskSz uint32
	minWait   uint32 // min_wait_usec (6.12); 0
	ts        uint64 // *struct __kernel_timespec
}

// probe is struct io_uring_probe with room for every opcode.
type probe struct {
	lastOp uint8
	opsLen uint8
	_      uint16
	_      [3]uint32
	ops    [256]probeOp
}

// probeOp is struct io_uring_probe_op.
type probeOp struct {
	op    uint8
	_     uint8
	flags uint16 // ioOpSupported
	_     uint32
}

const (
	// io_uring_setup flags not exported in ring.go.
	setupCQSize  uint32 = 1 << 3
	setupSQE128  uint32 = 1 << 10
	setupCQE32   uint32 = 1 << 11
	setupNoMmap  uint32 = 1 << 14
	setupSQPoll  uint32 = 1 << 1
	setupNoArray uint32 = 1 << 16

	// mmap offsets of the rings.
	offSQRing = 0
	offCQRing = 0x8000000
	offSQEs   = 0x10000000

	// io_uring_enter flags.
	enterGetEvents = 1 << 0
	enterSQWakeup  = 1 << 1
	enterSQWait    = 1 << 2
	enterExtArg    = 1 << 3

	// sq_flags bits.
	sqNeedWakeup = 1 << 0
	sqCQOverflow = 1 << 1
	sqTaskrun    = 1 << 2

	// io_uring_register opcodes.
	registerBuffers   = 0
	unregisterBuffers = 1
	registerProbe     = 8

	ioOpSupported = 1 << 0

	// IORING_RECVSEND_FIXED_BUF: sqe.bufIndex names a registered buffer.
	recvSendFixedBuf = 1 << 2
)

// setup is io_uring_setup(2).
func setup(entries uint32, p *params) (int, error) {
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(p)), 0)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}

// enter is io_uring_enter(2). It blocks (unix.Syscall6, not RawSyscall6):
// the Go scheduler hands the P to another thread meanwhile. arg is nil or
// the ring's getEventsArg, which lives on the heap with the ring.
func enter(fd int, toSubmit, minComplete uint32, flags uint32, arg *getEventsArg) (int, unix.Errno) {
	var argp, argSz uintptr
	if arg != nil {
		argp, argSz = uintptr(unsafe.Pointer(arg)), unsafe.Sizeof(*arg)
	}
	n, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(fd), uintptr(toSubmit), uintptr(minComplete), uintptr(flags), argp, argSz)
	return int(n), errno
}

// register is io_uring_register(2), retried on EINTR.
func register(fd int, op uint32, arg unsafe.Pointer, nr uint32) error {
	for {
		_, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(fd), uintptr(op), uintptr(arg), uintptr(nr), 0, 0)
		switch errno {
		case 0:
			return nil
		case unix.EINTR:
			continue
		}
		return errno
	}
}
