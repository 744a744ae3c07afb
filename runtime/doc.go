// Package runtime is the contract between Roadrunner and a WebAssembly engine,
// and the guest ABI that contract serves.
//
// An [Engine] compiles a module and returns a [Function]: a named pool of
// instances of that module. A Function receives payloads with
// [Function.Deliver], which asks an idle instance for a buffer through the
// guest's rr_alloc export, bounds-checks the answer, lends a view of that
// buffer to a fill callback for exactly as long as it takes to fill it, and
// then calls the guest's rr_handle export. No view of guest memory escapes a
// call: memory may grow and move the moment control returns to the guest.
//
// A guest talks back through the imports of the "roadrunner" module, send and
// reply, which an engine forwards to the [Host] given to [Engine.Load]. Every
// (ptr, len) pair a guest passes is bounds-checked against its memory before
// the host reads it; a bad one becomes [CodeBadPointer], never a host panic.
//
// Engines implement [Instance] (one instantiated module, single-threaded) and
// use [NewPool] to get a Function with the pooling, instance replacement after
// a trap and the bounds checks written once, here, for every engine. The
// conformance suite in runtime/runtimetest holds every engine to this
// contract.
//
// Wasm memory never shrinks: an instance keeps what its largest payload
// made it grow to. [FunctionSpec].MaxMemory caps that growth (the engine
// applies the lower of its own limit and MaxMemory, see [MemoryLimit]), and
// [FunctionSpec].RecycleAbove makes the pool close an instance whose
// [Instance].MemorySize is above it when it comes back from a delivery,
// whatever the outcome, instead of keeping it idle; [PoolStats].Recycled
// counts them.
//
// Errors carry a [Code], the small fixed table of the ABI (docs/ABI.md),
// defined once in package abi and re-exported here. Use [CodeOf] to find the
// code of an error and errors.Is to test for one.
package runtime
