// Package wire is the frame codec of the unix and tcp paths: what crosses a
// connection between two nodes, and what a peer written in another language
// implements (docs/PROTOCOL.md is the reference). It has no sockets in it:
// it encodes into and decodes from byte slices and io.Readers.
//
// A frame is a fixed 32-byte little-endian [Header], then the target's
// name (DATA frames), then the raw payload. [ParseHeader] and [ReadHeader]
// validate a header against [Limits] before anything is allocated for it,
// [ReadName] checks the name, and [ReadPayload] reads the payload straight
// into a receiver's view and checks its optional CRC32C, so that a
// malformed frame ([ErrBadFrame]) never reaches a receiver. None of them
// allocates on the way to an answer, valid or not: a stream of garbage
// costs its receiver no memory.
//
// A connection may begin with a HELLO frame; [Hello] encodes and decodes
// its payload, a list of type-length-value options.
//
// An ACK's status is a code of the guest ABI's table (docs/ABI.md); wire
// checks it against the table's range and does not interpret it.
package wire
