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
// Path names ([PathMemory], [PathHTTP]) are the values of the path label of
// metrics and of the path field of a trace.
package transport
