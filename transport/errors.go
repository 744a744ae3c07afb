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
)

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
