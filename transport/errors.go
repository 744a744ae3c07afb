package transport

import (
	"errors"
	"strconv"

	"github.com/roadrunner-wasm/roadrunner/transport/features"
)

// ErrNotSupported is wrapped by every error that says the kernel, the
// sandbox around this process, or the operating system does not let it use
// a path, mechanism or accelerator. Test for it with errors.Is. It is
// [features.ErrNotSupported].
var ErrNotSupported = features.ErrNotSupported

// Errors of a Peer.
var (
	ErrPeerClosed = errors.New("peer closed")
	// ErrConnClosed is a connection that ended before its ACK: the peer
	// node stopped, crashed or refused the frame.
	ErrConnClosed = errors.New("connection closed before the ACK")
	// ErrNotSent is matched (errors.Is) by the error of a Send that
	// failed before any byte of its frame left this process: no
	// connection could be had (a dial refused or timed out, a HELLO
	// refused, every connection busy until the context ended). Such a
	// send may be tried elsewhere; any other failure may have reached
	// the peer's function.
	ErrNotSent = errors.New("nothing sent")
	// ErrNoDirectory is the error of Exchange with a peer that does not
	// speak the cluster directory (its HELLO did not say so).
	ErrNoDirectory = errors.New("peer does not speak the cluster directory")
)

// notSent wraps an error of a send that sent nothing: its message is
// err's, and it matches ErrNotSent.
type notSent struct{ err error }

func (e *notSent) Error() string        { return e.err.Error() }
func (e *notSent) Unwrap() error        { return e.err }
func (e *notSent) Is(target error) bool { return target == ErrNotSent }

// ErrAddrInUse is a listening address another live node holds.
var ErrAddrInUse = errors.New("address in use by a live node")

// StatusError is a transfer the receiver answered with a non-zero ACK
// status: an ABI code, abi.Code(Status).
type StatusError struct {
	Status int32
}

func (e *StatusError) Error() string {
	return "receiver answered status " + strconv.Itoa(int(e.Status))
}
