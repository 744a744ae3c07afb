// Package wasmedge is a Roadrunner engine over WasmEdge, through
// github.com/second-state/WasmEdge-go. It is built only with the build tag
// wasmedge (cgo), against an installed WasmEdge 0.14 C library
// (include/wasmedge/wasmedge.h, lib/libwasmedge.so): make build WASMEDGE=1
// WASMEDGE_DIR=..., or go build -tags wasmedge with CGO_CFLAGS and
// CGO_LDFLAGS pointing at it. Without the tag this package is empty and the
// default build stays pure Go. WasmEdge runs modules in its interpreter
// here (a library built without LLVM has no AOT compiler), so there is no
// compilation cache.
//
// Each loaded function parses and validates its module once (a WasmEdge
// AST, shared by its instances) and runs every instance with its own
// executor and store, the parts of a WasmEdge VM, into which it registers a
// WASI preview 1 module and the "roadrunner" host module. A reactor's
// _initialize runs once per instance; a WASI command module (one that
// exports _start) is refused. Instances are pooled by runtime.NewPool. The
// function's configuration caps every memory at its limit
// (SetMaxMemoryPage: Options.MemoryLimitPages, lowered by
// FunctionSpec.MaxMemory): a guest's memory.grow past it returns -1. Every
// WasmEdge object is released (Release) when its instance or function is
// closed, and on every error path of their creation.
//
// The send and reply imports are host functions closed over their instance:
// they bounds-check their (ptr, len) arguments in 64-bit arithmetic against
// the memory's size and pass the view Memory.GetData returns, not a copy, to
// the runtime.Host. The view is valid until the host function returns; in
// general a view of a WasmEdge memory is valid until the next call into the
// guest or the next growth of its memory, whichever comes first.
// WasmEdge-go dispatches every host call through a process-wide table under
// one mutex and passes arguments and results boxed in interfaces: a host
// call costs more than on wazero (the results are pre-built, so returning
// a code does not allocate).
//
// Interruption. WasmEdge's interpreter checks a stop token of its executor
// at every function entry, return and branch, always: interruption costs
// guest code nothing, and FunctionSpec.Uninterruptible only leaves out the
// per-call context.AfterFunc below. The C API sets that token only through
// WasmEdge_AsyncCancel, so when the context of a call ends, a
// context.AfterFunc starts an asynchronous call of a host function with a
// wrong argument on the instance's executor (it fails at once, in a thread
// WasmEdge starts, without touching the token) and cancels it, which stops
// the executor: the guest's call ends with "interrupted" at its next check,
// and Deliver fails with runtime.CodeCanceled. A stop that comes after the
// call returned leaves the token set; the instance then consumes it with a
// call of a no-op host function before its next call.
//
// Guest output: WasmEdge 0.14's WASI module writes the guest's fds 1 and 2
// to the process's own stdout and stderr, and its C API offers no way to
// redirect them (WasmEdge 0.15 adds WasmEdge_ModuleInstanceCreateWASIWithFds).
// FunctionSpec.Stdout and Stderr are therefore not honoured by this engine.
//
// WasmEdge's own logging is turned off for the process by the first New:
// it would print every trap and interruption, which this package returns as
// errors.
package wasmedge
