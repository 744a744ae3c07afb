package guest

import "strconv"

// Error is a failure code returned by the host's send or reply. The values
// are ABI version 1's table (docs/ABI.md) and equal runtime.Code's.
type Error int32

// The ABI's failure codes.
const (
	ErrBadPointer      Error = -1
	ErrUnknownFunction Error = -2
	ErrTooLarge        Error = -3
	ErrTransport       Error = -4
	ErrReceiverFailed  Error = -5
	ErrReceiverTrapped Error = -6
	ErrAllocFailed     Error = -7
	ErrNoInvocation    Error = -8
	ErrAlreadyReplied  Error = -9
	ErrBusy            Error = -10
	ErrCanceled        Error = -11
	ErrInternal        Error = -12
)

var errorText = [...]string{
	1:  "bad pointer",
	2:  "unknown function",
	3:  "payload too large",
	4:  "transport failure",
	5:  "receiver failed",
	6:  "receiver trapped",
	7:  "receiver allocation failed",
	8:  "no invocation to reply to",
	9:  "already replied",
	10: "busy",
	11: "canceled",
	12: "internal error",
}

func (e Error) Error() string {
	if i := -int(e); i > 0 && i < len(errorText) {
		return "roadrunner: " + errorText[i]
	}
	return "roadrunner: code " + strconv.Itoa(int(e))
}

// errorOf turns a host result into an error: nil for 0.
func errorOf(code int32) error {
	if code == 0 {
		return nil
	}
	return Error(code)
}
