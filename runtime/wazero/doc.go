// Package wazero is Roadrunner's default engine: github.com/tetratelabs/wazero,
// pure Go, no cgo.
//
// Each loaded function gets its own wazero runtime holding WASI preview 1, the
// "roadrunner" host module and the compiled module; the runtimes share one
// compilation cache, on disk when Options.CacheDir is set, so that a node
// restart does not recompile its modules. A reactor's _initialize runs once
// per instance; a WASI command module (one that exports _start) is refused.
//
// The send and reply imports are host functions on wazero's stack path
// (api.GoModuleFunc): they read their (ptr, len) arguments from the stack,
// bounds-check them against the caller's memory with api.Memory.Read, and
// pass the resulting view, not a copy, to the runtime.Host. The view is valid
// until the host function returns.
//
// Calls into a guest are interrupted when their context is done
// (RuntimeConfig.WithCloseOnContextDone): the instance is then closed and the
// pool replaces it. That check costs guest compute (a CRC32C loop measured
// 3.7x slower with it); FunctionSpec.Uninterruptible turns it off per
// function.
//
// A function's memory limit (Options.MemoryLimitPages, lowered by
// FunctionSpec.MaxMemory) is its runtime's WithMemoryLimitPages: a guest's
// memory.grow past it returns -1. Each instance's memory is a reservation
// of that limit, committed as it grows, so the limit also sizes the
// reservations and, with SharedMemory, the slots of the shared file.
package wazero
