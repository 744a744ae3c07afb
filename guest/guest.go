//go:build wasip1

package guest

import (
	"os"
	"unsafe"

	"github.com/roadrunner-wasm/roadrunner/abi"
)

// HandlerFunc handles one payload. payload is a view of the SDK's receive
// buffer, valid until the handler returns. A non-nil error makes rr_handle
// return 1; the error's text is written to standard error, which the host
// logs.
type HandlerFunc func(payload []byte) error

var (
	handler HandlerFunc
	recv    []byte // the receive buffer, reused for every payload
)

// Handle registers the function's handler. Call it from init.
func Handle(h HandlerFunc) { handler = h }

// Send delivers payload to the function named name and returns after its
// handler has returned. The host reads payload in place; the caller may reuse
// it as soon as Send returns.
func Send(name string, payload []byte) error {
	return errorOf(SendRaw(
		uint32(uintptr(unsafe.Pointer(unsafe.StringData(name)))), uint32(len(name)),
		uint32(uintptr(unsafe.Pointer(unsafe.SliceData(payload)))), uint32(len(payload))))
}

// Reply answers the current invocation with payload (for HTTP ingress, the
// response body). The host reads payload in place. An invocation takes one
// reply; a second returns ErrAlreadyReplied.
func Reply(payload []byte) error {
	return errorOf(ReplyRaw(uint32(uintptr(unsafe.Pointer(unsafe.SliceData(payload)))), uint32(len(payload))))
}

// SendRaw is the host's send import, unchecked: the host bounds-checks both
// ranges against this instance's memory. Use Send; SendRaw exists for tests
// of hosts.
//
//go:wasmimport roadrunner send
func SendRaw(namePtr, nameLen, dataPtr, dataLen uint32) int32

// ReplyRaw is the host's reply import, unchecked. Use Reply.
//
//go:wasmimport roadrunner reply
func ReplyRaw(dataPtr, dataLen uint32) int32

// errorOf turns a host result into an error: nil for 0.
func errorOf(code int32) error {
	if code == 0 {
		return nil
	}
	return abi.Code(code)
}

// rrAlloc gives the host n writable bytes: the receive buffer, grown to at
// least n. Growth rounds up to 64 KiB so that slowly growing payloads do not
// reallocate every time.
//
//lint:ignore U1000 called by the host: staticcheck does not see go:wasmexport.
//go:wasmexport rr_alloc
func rrAlloc(n uint32) uint32 {
	if n == 0 {
		return 0
	}
	if uint32(cap(recv)) < n {
		recv = nil // let the old buffer go before the new one is made
		recv = make([]byte, (uint64(n)+65535)&^65535)
	}
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(recv))))
}

//lint:ignore U1000 called by the host: staticcheck does not see go:wasmexport.
//go:wasmexport rr_handle
func rrHandle(ptr, n uint32) int32 {
	var payload []byte
	if n > 0 {
		if uintptr(ptr) != uintptr(unsafe.Pointer(unsafe.SliceData(recv))) || uint64(n) > uint64(cap(recv)) {
			os.Stderr.WriteString("roadrunner guest: rr_handle: payload not in the receive buffer\n")
			return 2
		}
		payload = recv[:n:n]
	}
	if handler == nil {
		os.Stderr.WriteString("roadrunner guest: no handler registered (call guest.Handle in init)\n")
		return 3
	}
	if err := handler(payload); err != nil {
		os.Stderr.WriteString("roadrunner guest: handler: " + err.Error() + "\n")
		return 1
	}
	return 0
}
