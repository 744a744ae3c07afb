// Package runtimetest is the conformance suite every engine must pass, in the
// manner of testing/fstest: an engine's own test calls Run with a constructor
// and gets the whole contract of package runtime checked against real
// modules.
//
//	func TestConformance(t *testing.T) {
//		runtimetest.Run(t, func(tb testing.TB) runtime.Engine {
//			e, err := myengine.New(...)
//			if err != nil {
//				tb.Fatal(err)
//			}
//			return e
//		})
//	}
//
// The suite's guest is testdata/conformance, a Go reactor written against the
// raw ABI so that it can misbehave on purpose (bad pointers, failing
// allocations, traps, endless loops); it is compiled with the host's Go
// toolchain on first use. A few malformed modules (missing or mistyped
// exports, a command module, a genuine unreachable trap) are assembled in
// code, byte by byte.
//
// What it checks: Load refuses modules that do not meet ABI v1 with a message
// naming the fault; payloads of 0 B, 1 B, 1 MiB and 64 MiB arrive intact and
// come back intact through reply; views stay correct when the guest grows its
// memory between calls; an out-of-bounds or overflowing (ptr, len) given to
// send or reply returns CodeBadPointer without reaching the host and without
// a host panic; send reaches the Host with the sender's name and the exact
// bytes, and the Host's error reaches the guest as its code; rr_alloc
// returning 0 or a range outside memory fails the delivery with
// CodeAllocFailed and nothing is written; a trap fails that call only and the
// instance is replaced; a non-zero rr_handle is CodeReceiverFailed; an
// endless guest is interrupted when the context ends, and an uninterruptible
// function still works beside an interruptible one; a pool is used by many
// goroutines at once without mixing payloads (run it with -race); a closed
// function refuses work, and Close waits for a delivery in progress; a
// payload that does not fit MaxMemory fails with CodeAllocFailed or a trap
// and the function serves small ones after it, Load refuses a MaxMemory
// under a page or below the module's declared minimum and names both; an
// instance above RecycleAbove after a delivery (succeeded or failed) is
// closed and counted in Recycled, the next delivery gets a fresh one, and
// one below it is kept.
//
// CacheSurvivesRestart checks an engine's compilation cache on disk, for
// engines that have one.
package runtimetest
