package abi

import "strconv"

// Code is a result code of the guest ABI: what send and reply return to a
// guest, what a host error means, and the status of an ACK frame. Zero is
// success; every failure is a negative number from the fixed table below. A
// Code is also an error: errors.Is(err, TooLarge).
//
// The table is part of ABI version 1: codes are never renumbered, only added.
type Code int32

const (
	OK              Code = 0
	BadPointer      Code = -1  // a (ptr, len) outside the caller's memory, or overflowing
	UnknownFunction Code = -2  // no function of that name is reachable
	TooLarge        Code = -3  // the payload exceeds the receiver's limit
	Transport       Code = -4  // the transfer failed in transit (peer gone, timeout)
	ReceiverFailed  Code = -5  // the receiver's rr_handle returned non-zero
	ReceiverTrapped Code = -6  // the receiver trapped (or exited) in rr_alloc or rr_handle
	AllocFailed     Code = -7  // the receiver's rr_alloc returned 0 or a range outside its memory
	NoInvocation    Code = -8  // reply called where no invocation waits for an answer
	AlreadyReplied  Code = -9  // reply called a second time for one invocation
	Busy            Code = -10 // no instance can take it without deadlock, or the chain is too deep
	Canceled        Code = -11 // the invocation's deadline passed or the node is shutting down
	Internal        Code = -12 // a host failure that fits no other code
)

// table is the code table, indexed by -code: each code's description (its
// Error text) and its metric label. Adding a code means a line here, in
// docs/ABI.md and in code_test.go.
var table = [...]struct{ text, label string }{
	0:  {"ok", "ok"},
	1:  {"bad pointer", "bad_pointer"},
	2:  {"unknown function", "unknown_function"},
	3:  {"payload too large", "too_large"},
	4:  {"transport failure", "transport"},
	5:  {"receiver failed", "receiver_failed"},
	6:  {"receiver trapped", "receiver_trapped"},
	7:  {"receiver allocation failed", "alloc_failed"},
	8:  {"no invocation to reply to", "no_invocation"},
	9:  {"already replied", "already_replied"},
	10: {"busy", "busy"},
	11: {"canceled", "canceled"},
	12: {"internal error", "internal"},
}

// Codes lists every defined code, in table order: OK, then -1, -2, …; a
// code's index is -code.
func Codes() []Code {
	cs := make([]Code, len(table))
	for i := range cs {
		cs[i] = Code(-i)
	}
	return cs
}

// Defined reports whether c is in this version's table. A peer may receive
// a code it does not know only from a newer peer, or from a broken one.
func (c Code) Defined() bool { return c <= 0 && -int(c) < len(table) }

// Error implements error with the code's description; a code outside the
// table reads "code N".
func (c Code) Error() string {
	if c.Defined() {
		return table[-c].text
	}
	return "code " + strconv.Itoa(int(c))
}

// Label is the code as a short snake_case word, fit for a metric label or a
// JSON field; "unknown" for a code outside the table.
func (c Code) Label() string {
	if c.Defined() {
		return table[-c].label
	}
	return "unknown"
}

// ABICode returns c. Any error type with this method carries a code that
// CodeOf finds.
func (c Code) ABICode() Code { return c }

// CodeOf returns the code an error stands for: OK for nil, the first Code
// found by unwrapping (a Code itself, or any error with an ABICode() Code
// method), and Internal for any other error. It does not allocate.
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
				if c := CodeOf(e); c != Internal {
					return c
				}
			}
			return Internal
		default:
			return Internal
		}
	}
	return OK
}
