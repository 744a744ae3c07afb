package runtime

// ABIVersion is the version of the guest ABI described in docs/ABI.md.
const ABIVersion = 1

// Names of the guest's exports and of the host's import module.
const (
	ExportMemory = "memory"
	ExportAlloc  = "rr_alloc"  // (len i32) -> i32: give the host len writable bytes; 0 = cannot
	ExportHandle = "rr_handle" // (ptr i32, len i32) -> i32: a payload arrived; 0 = accepted
	ExportInit   = "_initialize"

	ImportModule = "roadrunner"
	ImportSend   = "send"  // (name_ptr, name_len, data_ptr, data_len i32) -> i32
	ImportReply  = "reply" // (data_ptr, data_len i32) -> i32
)

// Code is a result code of the guest ABI: what send and reply return to a
// guest, and what a host error means. Zero is success; every failure is a
// negative number from the fixed table below. A Code is also an error, so the
// table doubles as the set of sentinel errors: errors.Is(err, CodeTooLarge).
//
// The table is part of ABI version 1: codes are never renumbered, only added.
type Code int32

const (
	CodeOK              Code = 0
	CodeBadPointer      Code = -1  // a (ptr, len) outside the caller's memory, or overflowing
	CodeUnknownFunction Code = -2  // no function of that name is reachable
	CodeTooLarge        Code = -3  // the payload exceeds the receiver's limit
	CodeTransport       Code = -4  // the transfer failed in transit (peer gone, timeout)
	CodeReceiverFailed  Code = -5  // the receiver's rr_handle returned non-zero
	CodeReceiverTrapped Code = -6  // the receiver trapped (or exited) in rr_alloc or rr_handle
	CodeAllocFailed     Code = -7  // the receiver's rr_alloc returned 0 or a range outside its memory
	CodeNoInvocation    Code = -8  // reply called where no invocation waits for an answer
	CodeAlreadyReplied  Code = -9  // reply called a second time for one invocation
	CodeBusy            Code = -10 // no instance can take it without deadlock, or the chain is too deep
	CodeCanceled        Code = -11 // the invocation's deadline passed or the node is shutting down
	CodeInternal        Code = -12 // a host failure that fits no other code
)

var codeText = [...]string{
	0:  "ok",
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

var codeLabel = [...]string{
	0:  "ok",
	1:  "bad_pointer",
	2:  "unknown_function",
	3:  "too_large",
	4:  "transport",
	5:  "receiver_failed",
	6:  "receiver_trapped",
	7:  "alloc_failed",
	8:  "no_invocation",
	9:  "already_replied",
	10: "busy",
	11: "canceled",
	12: "internal",
}

// Codes lists every defined code, in table order.
func Codes() []Code {
	cs := make([]Code, len(codeText))
	for i := range cs {
		cs[i] = Code(-i)
	}
	return cs
}

// Error implements error with the code's description.
func (c Code) Error() string {
	if i := -int(c); i >= 0 && i < len(codeText) {
		return codeText[i]
	}
	return "unknown code"
}

// Label is the code as a short snake_case word, fit for a metric label.
func (c Code) Label() string {
	if i := -int(c); i >= 0 && i < len(codeLabel) {
		return codeLabel[i]
	}
	return "unknown"
}

// ABICode returns c. Any error type with this method carries a code that
// CodeOf finds.
func (c Code) ABICode() Code { return c }

// CodeOf returns the ABI code an error stands for: CodeOK for nil, the first
// Code found by unwrapping (a Code itself, or any error with an
// ABICode() Code method), and CodeInternal for any other error. It does not allocate.
func CodeOf(err error) Code {
	for err != nil {
		if c, ok := err.(interface{ ABICode() Code }); ok {
			return c.ABICode()
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if c := CodeOf(e); c != CodeInternal {
					return c
				}
			}
			return CodeInternal
		default:
			return CodeInternal
		}
	}
	return CodeOK
}
