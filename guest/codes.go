package guest

import "github.com/roadrunner-wasm/roadrunner/abi"

// Error is a failure code returned by the host's send or reply: a code of the
// ABI's table (package abi, docs/ABI.md), the same type the host uses, so
// errors.Is(err, ErrBusy) and errors.Is(err, abi.Busy) agree.
type Error = abi.Code

// The ABI's failure codes.
const (
	ErrBadPointer      = abi.BadPointer
	ErrUnknownFunction = abi.UnknownFunction
	ErrTooLarge        = abi.TooLarge
	ErrTransport       = abi.Transport
	ErrReceiverFailed  = abi.ReceiverFailed
	ErrReceiverTrapped = abi.ReceiverTrapped
	ErrAllocFailed     = abi.AllocFailed
	ErrNoInvocation    = abi.NoInvocation
	ErrAlreadyReplied  = abi.AlreadyReplied
	ErrBusy            = abi.Busy
	ErrCanceled        = abi.Canceled
	ErrInternal        = abi.Internal
)
