// Package payload is the format of the payloads rrnode bench moves, shared by
// the benchmark's guests (examples/benchsrc, benchsink, jsonsrc, jsonsink),
// its native baselines and its driver, so that every receiver verifies every
// delivery the same way.
//
// A payload is a 32-byte header followed by a body:
//
//	magic "RRBD" | reserved u32 | seq u64 | size u64 | sum(body) u64
//
// all little-endian; size is the whole payload's length, header included.
// The body is a deterministic pseudo-random stream ([Fill]) that depends on
// the size only, so a sender computes its [Sum] once per size and then only
// stamps a new sequence number per transfer. A receiver calls [Check], which
// recomputes the body's sum, and then [Clear]s its buffer: a later
// transfer that delivered nothing new therefore cannot pass by finding the
// previous body still in place.
//
// The package uses nothing but the standard library, so that it compiles
// for GOOS=wasip1.
package payload
