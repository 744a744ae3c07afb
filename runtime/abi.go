package runtime

import "github.com/roadrunner-wasm/roadrunner/abi"

// The ABI's names and code table live in package abi, which the guest SDK
// shares; runtime re-exports them under the names its users have always had.

// ABIVersion is the version of the guest ABI described in docs/ABI.md.
const ABIVersion = abi.Version

// Names of the guest's exports and of the host's import module.
const (
	ExportMemory = abi.ExportMemory
	ExportAlloc  = abi.ExportAlloc
	ExportHandle = abi.ExportHandle
	ExportInit   = abi.ExportInit

	ImportModule = abi.ImportModule
	ImportSend   = abi.ImportSend
	ImportReply  = abi.ImportReply
)

// Code is a result code of the guest ABI (abi.Code): what send and reply
// return to a guest, and what a host error means. A Code is also an error, so
// the table doubles as the set of sentinel errors: errors.Is(err,
// CodeTooLarge).
type Code = abi.Code

// The ABI's codes; see package abi for their meaning.
const (
	CodeOK              = abi.OK
	CodeBadPointer      = abi.BadPointer
	CodeUnknownFunction = abi.UnknownFunction
	CodeTooLarge        = abi.TooLarge
	CodeTransport       = abi.Transport
	CodeReceiverFailed  = abi.ReceiverFailed
	CodeReceiverTrapped = abi.ReceiverTrapped
	CodeAllocFailed     = abi.AllocFailed
	CodeNoInvocation    = abi.NoInvocation
	CodeAlreadyReplied  = abi.AlreadyReplied
	CodeBusy            = abi.Busy
	CodeCanceled        = abi.Canceled
	CodeInternal        = abi.Internal
)

// Codes lists every defined code, in table order; a code's index is -code.
func Codes() []Code { return abi.Codes() }

// CodeOf returns the ABI code an error stands for: CodeOK for nil, the first
// Code found by unwrapping (a Code itself, or any error with an
// ABICode() Code method), and CodeInternal for any other error. It does not
// allocate.
func CodeOf(err error) Code { return abi.CodeOf(err) }
