// Package wasmtime is a Roadrunner engine over Wasmtime, through
// github.com/bytecodealliance/wasmtime-go. It is built only with the build
// tag wasmtime (cgo; wasmtime-go carries its own static libwasmtime.a, so
// nothing else needs installing): go build -tags wasmtime, or
// make build WASMTIME=1. Without the tag this package is empty and the
// default build stays pure Go.
//
// Each loaded function compiles its module once (a wasmtime.Module, shared by
// its instances) and runs every instance in its own wasmtime.Store, with its
// own Linker holding WASI preview 1 and the "roadrunner" host module. A
// reactor's _initialize runs once per instance; a WASI command module (one
// that exports _start) is refused. Instances are pooled by runtime.NewPool.
// Each store's Limiter caps its memory at the function's limit
// (Options.MemoryLimitPages, lowered by FunctionSpec.MaxMemory): a guest's
// memory.grow past it returns -1.
//
// The send and reply imports are host functions closed over their instance:
// they bounds-check their (ptr, len) arguments in 64-bit arithmetic against
// Memory.UnsafeData and pass the resulting view, not a copy, to the
// runtime.Host. The view is valid until the host function returns; in
// general a view of a Wasmtime memory is valid until the next call into the
// guest or the next growth of its memory, whichever comes first.
//
// Interruption is epoch-based. Functions that are not
// FunctionSpec.Uninterruptible are compiled by a wasmtime.Engine with epoch
// checks; each store has an epoch deadline callback that ends the call with
// an error when the context of the call in progress is done, and otherwise
// extends the deadline by one epoch. A delivery whose context can end
// registers context.AfterFunc (once for its rr_alloc and rr_handle calls) to
// increment the engine's epoch when it does: nothing ticks while nobody is
// canceled, and a cancellation reaches the guest at its next loop back-edge
// or function entry. Other stores woken by that increment
// find their own context alive and go on. Uninterruptible functions use a
// second wasmtime.Engine compiled without epoch checks.
//
// The deadline callback is registered through wasmtime's C API directly
// (wasmtime_store_epoch_deadline_callback), which wasmtime-go does not wrap;
// the store pointer is read from wasmtime.Store and checked against
// Store.Context before use, so a layout change fails loudly at instantiation.
//
// Guest stdout and stderr: Wasmtime's WASI writes only to files, so each
// function with a FunctionSpec.Stdout (Stderr) gets a pipe whose write end
// every store opens through /proc/self/fd (Linux), and a goroutine that
// copies the read end to the writer. Nil writers leave the WASI fds closed.
//
// Options.CacheDir keeps compiled modules on disk (Module.Serialize, loaded
// back with NewModuleDeserialize), keyed by the SHA-256 of the module bytes,
// the wasmtime-go version and the engine flavour (with or without epoch
// checks); an entry that fails to deserialize is recompiled and rewritten.
package wasmtime
