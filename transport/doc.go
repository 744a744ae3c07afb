// Package transport moves payloads into a receiver's memory. It knows nothing
// of WebAssembly: a receiver is a [Sink], which lends a view of the memory a
// payload must land in for exactly as long as it takes to fill it.
//
// The memory path ([Memory]) serves a sender and a receiver in one process:
// it copies the sender's payload once, straight from the sender's view into
// the receiver's, with no intermediate buffer and no allocation per transfer.
//
// The unix and tcp paths serve nodes in other processes and on other hosts
// (docs/PROTOCOL.md). A [Peer] is the sending side: persistent connections
// to one node, one transfer at a time on each, a frame written with writev
// straight from the sender's view (or, on tcp, with vmsplice and splice
// through a pipe, [MechanismSplice]; [MechanismAuto] measures both and keeps
// the cheaper), and Send returns only after the receiver's ACK, so the
// sender may reuse its buffer at once. A [Server] is the receiving side: it
// validates each frame's header and name before the Sink is asked for
// memory, reads the payload from the socket straight into the Sink's view,
// and answers with an ACK carrying the receiver's result; a malformed frame
// closes its connection and reaches no receiver. [ListenUnix] makes a unix
// path socket with a given mode, replacing a stale one and refusing to take
// a live one.
//
// The frame layer (frame.go): a fixed 32-byte little-endian [wire.Header], then
// the target's name, then the raw payload. [wire.ParseHeader] and [wire.ReadHeader]
// validate a header against [wire.Limits] before anything is allocated for it,
// [wire.ReadName] checks the name, and [wire.ReadPayload] reads the payload straight
// into a Sink's view and checks its optional CRC32C, so that a malformed
// frame ([wire.ErrBadFrame]) never reaches a receiver.
//
// Kernel features are probed once and cached ([Probe], [ProbeSplice], …):
// operations try first and consult a probe only to explain a failure. A
// refused splice or vmsplice makes the tcp path fall back to writev, counted
// through [DialOptions].OnFallback.
//
// Path names ([PathMemory], [PathHTTP], [PathUnix], [PathTCP]) are the values
// of the path label of metrics and of the path field of a trace.
package transport
