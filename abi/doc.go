// Package abi is the guest ABI of Roadrunner, version 1 (docs/ABI.md), written
// down once: the names a function exports and imports, and the table of
// result codes that send and reply return to a guest, that the host's errors
// carry, and that an ACK frame reports for a remote delivery.
//
// It is a leaf: it imports only strconv, and builds for the host and for
// GOOS=wasip1 GOARCH=wasm alike, so that the host (runtime, the engines,
// transport, node) and the Go guest SDK (guest) share one table instead of
// keeping copies that could drift. Anything a peer written in another
// language must agree with is here or in docs/ABI.md.
//
// A [Code] is also an error, so the table doubles as the set of sentinel
// errors: errors.Is(err, abi.TooLarge). [CodeOf] finds the code an error
// stands for. Codes are never renumbered; a later ABI version only adds.
package abi
