// Package transport moves payloads into a receiver's memory. It knows nothing
// of WebAssembly: a receiver is a [Sink], which lends a view of the memory a
// payload must land in for exactly as long as it takes to fill it.
//
// The memory path ([Memory]) serves a sender and a receiver in one process:
// it copies the sender's payload once, straight from the sender's view into
// the receiver's, with no intermediate buffer and no allocation per transfer.
// Later paths (unix, tcp) fill the receiver's view with a read straight from
// a connection.
//
// The frame layer of those paths is here already (frame.go, described in
// docs/PROTOCOL.md): a fixed 32-byte little-endian [Header], then the
// target's name, then the raw payload. [ParseHeader] and [ReadHeader]
// validate a header against [Limits] before anything is allocated for it,
// [ReadName] checks the name, and [ReadPayload] reads the payload straight
// into a Sink's view and checks its optional CRC32C, so that a malformed
// frame ([ErrBadFrame]) never reaches a receiver. Connections, and the
// unix and tcp paths built on them, do not exist yet.
//
// Path names ([PathMemory], [PathHTTP]) are the values of the path label of
// metrics and of the path field of a trace.
package transport
