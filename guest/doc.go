// Package guest is the SDK for Roadrunner functions written in Go.
//
// Build a function as a WASI preview 1 reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o fn.wasm .
//
// and register its handler in an init function (a reactor's main never runs):
//
//	func init() {
//		guest.Handle(func(payload []byte) error {
//			return guest.Send("next", payload)
//		})
//	}
//
//	func main() {}
//
// The package exports the ABI's rr_alloc and rr_handle (docs/ABI.md) and
// wraps the host's send and reply imports.
//
// # Who owns which buffer, and for how long
//
// Received payloads land in one receive buffer that the SDK keeps for the life
// of the instance and reuses for every payload, growing it only when a larger
// payload arrives. The payload a handler receives is a view of that buffer,
// valid until the handler returns: the next payload overwrites it. A handler
// that keeps any of it must copy it. A handler may modify its payload in place
// and may pass it to Send or Reply.
//
// Send and Reply read the caller's slice in place (the host copies straight
// out of guest memory) and return only after the host is done with it: when
// Send returns, the receiver's handler has returned, and the caller may
// overwrite or reuse its buffer at once.
//
// An instance handles one payload at a time; Send may be called from a handler
// and nests (the receiver runs before Send returns). A panic in a handler is a
// trap: the host reports the failure to the sender and replaces the instance.
package guest
