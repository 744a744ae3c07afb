package ring

import (
	"errors"
	"syscall"
	"time"
)

// Ring is one io_uring instance as the transport uses it: a submission
// queue (SQ) the caller fills with requests, a completion queue (CQ) the
// kernel fills with their results. Its methods are what the transport
// calls; the backends' types ([Native] from [New], and with the build tag
// giouring [Giouring] from NewGiouring) have more (file I/O, splice,
// fixed buffers, timeouts, cancellation by user data), which the
// conformance suite in package ringtest drives through them.
//
// A Ring is not safe for concurrent use: one goroutine at a time queues,
// submits and reaps. The transport uses one ring per connection, and a
// connection carries one transfer at a time.
//
// The prepare methods (Send, Recv, ...) each queue one submission queue
// entry (SQE) at the tail of the SQ; nothing reaches the kernel before
// Submit or Wait. They return [ErrQueueFull] when the SQ has no free entry:
// submit, then prepare again.
//
// Memory handed to a prepared request (a buffer, a msghdr and what it points
// to) is read or written by the kernel until the request's completion is
// reaped — for SEND_ZC, until its notification. It must stay alive and must
// not be on a goroutine stack (stacks move): use heap or mmap'd memory, and
// keep a reference to it until then (runtime.KeepAlive after the reaping,
// or a field of a struct that outlives the request): the ring keeps none,
// and the garbage collector reuses memory the kernel is still sending.
// Closing the ring with requests in flight cancels them, but only reaping
// their completions proves the kernel is done with the memory.
type Ring interface {
	// Send queues send(fd, b, msgFlags) (IORING_OP_SEND, Linux 5.6).
	Send(o Op, fd int, b []byte, msgFlags int) error
	// SendZC queues a zero-copy send (IORING_OP_SEND_ZC, Linux 6.0). It
	// completes twice: a result with CQEFMore set, then a notification
	// (CQEFNotif) once the kernel no longer uses b. zcFlags are
	// IORING_RECVSEND_* / IORING_SEND_ZC_* flags (SendZCReportUsage).
	SendZC(o Op, fd int, b []byte, msgFlags int, zcFlags uint16) error
	// SendMsg queues sendmsg(fd, msg, msgFlags) (IORING_OP_SENDMSG, 5.3).
	SendMsg(o Op, fd int, msg *Msghdr, msgFlags int) error
	// Recv queues recv(fd, b, msgFlags) (IORING_OP_RECV, 5.6). An empty b
	// on a stream socket still waits for a byte to be readable.
	Recv(o Op, fd int, b []byte, msgFlags int) error
	// CancelFD queues IORING_OP_ASYNC_CANCEL of the requests on fd
	// (IORING_ASYNC_CANCEL_FD, 5.19); with CancelAll, all of them, and
	// the result is how many were cancelled.
	CancelFD(o Op, fd int, flags uint32) error

	// Submit passes the queued requests to the kernel and returns how
	// many it took.
	Submit() (int, error)
	// Wait submits what is queued, then fills cqes with completions
	// (reaping them): it returns once it has at least min of them (min <=
	// len(cqes)), or when timeout > 0 has passed with fewer, then with
	// ErrTimeout and the count it has; timeout <= 0 waits as long as it
	// takes (a timeout needs IORING_FEAT_EXT_ARG, Linux 5.11). min 0 only
	// reaps what is ready. A signal does not end the wait. If the kernel
	// refuses a submission for a full CQ (EBUSY), the requests stay queued
	// and the next Wait submits them again.
	Wait(cqes []CQE, min int, timeout time.Duration) (int, error)

	// Probe reports which operations the kernel supports
	// (IORING_REGISTER_PROBE, 5.6).
	Probe() (*Probe, error)
	// Features are the IORING_FEAT_* flags the kernel set at setup.
	Features() uint32
	// Close unmaps the rings and closes the ring's file descriptor. It is
	// idempotent.
	Close() error
}

// Every system has a Native, a Ring (on other systems than Linux, one
// that [New] never returns).
var _ Ring = (*Native)(nil)

// Op carries what every prepared request has besides its operation.
type Op struct {
	UserData uint64 // returned in the request's completions
	Flags    uint8  // IOSQE_* flags: SQEIOLink, SQEAsync, ...
}

// CQE is one completion: Res is the operation's result, a negative errno
// on failure.
type CQE struct {
	UserData uint64
	Res      int32
	Flags    uint32 // CQEFMore, CQEFNotif, ...
}

// Err returns Res as an error: nil if Res >= 0, the errno otherwise.
func (c CQE) Err() error {
	if c.Res >= 0 {
		return nil
	}
	return syscall.Errno(-c.Res)
}

// Options configure a ring. The zero value means the defaults.
type Options struct {
	// Entries is the SQ size, rounded up to a power of two by the kernel
	// and clamped to its maximum (32768). Zero means DefaultEntries. The
	// CQ is twice as big.
	Entries uint32
	// Flags are extra IORING_SETUP_* flags. The backends always ask for
	// IORING_SETUP_CLAMP, IORING_SETUP_SUBMIT_ALL (5.18) and
	// IORING_SETUP_COOP_TASKRUN|IORING_SETUP_TASKRUN_FLAG (5.19), and set
	// up again without the ones an older kernel refuses with EINVAL.
	// IORING_SETUP_SINGLE_ISSUER is not asked for: Go moves goroutines
	// between threads, and a single-issuer ring refuses submissions from
	// any thread but the first (EEXIST).
	Flags uint32
}

// DefaultEntries is the SQ size of a ring whose Options say none.
const DefaultEntries = 64

// Probe is the set of operations the kernel supports.
type Probe struct {
	LastOp uint8 // the highest opcode the kernel knows
	ops    [256]bool
}

// Supported reports whether the kernel supports op.
func (p *Probe) Supported(op uint8) bool { return p != nil && p.ops[op] }

var (
	// ErrQueueFull is returned by a prepare method when the SQ has no
	// free entry.
	ErrQueueFull = errors.New("submission queue full")
	// ErrTimeout is returned by Wait when its timeout passed before min
	// completions arrived.
	ErrTimeout = errors.New("wait for completions: timed out")
	// ErrClosed is returned by every method of a closed ring.
	ErrClosed = errors.New("ring closed")
)

// Opcodes (enum io_uring_op) this project uses.
const (
	OpNop         uint8 = 0
	OpReadFixed   uint8 = 4
	OpWriteFixed  uint8 = 5
	OpSendMsg     uint8 = 9
	OpTimeout     uint8 = 11
	OpAsyncCancel uint8 = 14
	OpLinkTimeout uint8 = 15
	OpRead        uint8 = 22
	OpWrite       uint8 = 23
	OpSend        uint8 = 26
	OpRecv        uint8 = 27
	OpSplice      uint8 = 30
	OpSendZC      uint8 = 47
	OpSendMsgZC   uint8 = 48
)

// SQE flags (IOSQE_*).
const (
	SQEFixedFile  uint8 = 1 << 0
	SQEIODrain    uint8 = 1 << 1
	SQEIOLink     uint8 = 1 << 2 // the next request starts after this one succeeds
	SQEIOHardlink uint8 = 1 << 3
	SQEAsync      uint8 = 1 << 4
)

// CQE flags (IORING_CQE_F_*).
const (
	CQEFBuffer uint32 = 1 << 0
	CQEFMore   uint32 = 1 << 1 // another completion of this request follows
	CQEFNotif  uint32 = 1 << 3 // SEND_ZC's notification: the buffer is free
)

// Flags of SEND/RECV/SEND_ZC requests (sqe->ioprio) and of notifications.
const (
	RecvSendPollFirst uint16 = 1 << 0 // IORING_RECVSEND_POLL_FIRST
	SendZCReportUsage uint16 = 1 << 3 // IORING_SEND_ZC_REPORT_USAGE (6.2)
	// NotifUsageZCCopied is set in a SEND_ZC notification's Res when the
	// kernel copied the data after all (loopback, veth, no NIC support).
	NotifUsageZCCopied int32 = -1 << 31
)

// Cancel flags (IORING_ASYNC_CANCEL_*).
const (
	CancelAll uint32 = 1 << 0 // every matching request, not the first
	CancelFD  uint32 = 1 << 1 // match by fd (CancelFD sets it)
	CancelAny uint32 = 1 << 2 // match any request
)

// Setup flags (IORING_SETUP_*) and features (IORING_FEAT_*) named here.
const (
	SetupClamp        uint32 = 1 << 4
	SetupSubmitAll    uint32 = 1 << 7
	SetupCoopTaskrun  uint32 = 1 << 8
	SetupTaskrunFlag  uint32 = 1 << 9
	SetupSingleIssuer uint32 = 1 << 12

	FeatSingleMmap uint32 = 1 << 0
	FeatNoDrop     uint32 = 1 << 1
	FeatExtArg     uint32 = 1 << 8
)
