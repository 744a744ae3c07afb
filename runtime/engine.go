package runtime

import (
	"context"
	"io"
	"os"
)

// Engine compiles modules and instantiates them. An Engine is safe for
// concurrent use.
type Engine interface {
	// Name is the engine's short name: "wazero", "wasmtime", "wasmedge".
	Name() string
	// Version is the version of the underlying runtime.
	Version() string
	// Load compiles spec.Module, checks that it exports what ABI version 1
	// requires (memory, rr_alloc, rr_handle with their types), instantiates
	// one instance to prove it starts, and returns a Function whose guests'
	// send and reply imports reach host.
	Load(ctx context.Context, spec FunctionSpec, host Host) (Function, error)
	// Close releases everything the engine holds. Functions it loaded must
	// be closed first.
	Close(ctx context.Context) error
}

// FunctionSpec says what to load.
type FunctionSpec struct {
	// Name is the function's name: what other functions send to.
	Name string
	// Module is the Wasm binary: a WASI preview 1 reactor (its _initialize,
	// if exported, runs once per instance).
	Module []byte
	// PoolSize is the most instances the function runs at once. Zero means
	// GOMAXPROCS. Instances beyond the first are created on demand.
	PoolSize int
	// Uninterruptible lets the engine leave out what makes a call into the
	// guest stop when its context ends. Where that costs guest speed (wazero
	// checks a flag at every function entry and loop back-edge: guest
	// compute measured 3.7x slower), a function trusted to return can opt
	// out; a runaway call then holds its instance until it returns, past any
	// deadline. Engines whose interruption is free ignore it.
	Uninterruptible bool
	// SharedMemory asks for the instances' linear memories to lie in one
	// sealed memfd that a node of this host may map (the shm path): the
	// Function then implements [Sharer]. An engine that cannot place its
	// memories there ignores it, and its Function does not.
	SharedMemory bool
	// MaxMemory is the most bytes each instance's linear memory may grow
	// to: the engine applies the lower of its own limit and MaxMemory,
	// rounded down to whole 64 KiB pages. Zero means the engine's limit.
	// A guest that asks for more sees memory.grow fail, as if the system
	// had no more: its rr_alloc returns 0 (CodeAllocFailed) or it traps
	// (CodeReceiverTrapped). Load fails if MaxMemory is under one page, or
	// below the minimum memory the module declares.
	MaxMemory uint64
	// RecycleAbove closes an instance instead of keeping it idle when its
	// memory is above this many bytes as it returns to the pool, whatever
	// the delivery's outcome; the next delivery that needs an instance
	// instantiates a fresh one from the compiled module. Wasm memory never
	// shrinks: this is how a function gives back what one large (or
	// aborted) payload made an instance grow to. Zero means never.
	RecycleAbove uint64
	// Stdout and Stderr receive what the guest writes to WASI fds 1 and 2
	// (a Go guest's panic message, the guest SDK's handler errors). Nil
	// discards it. Each must be safe for concurrent use.
	Stdout, Stderr io.Writer
}

// Host is what a guest's "roadrunner" imports reach. An engine calls it on
// the goroutine that called into the guest, with the context of that call.
type Host interface {
	// Send delivers payload to the function named to, on behalf of the
	// function named from. payload is a view of the sender's memory, not a
	// copy: it is valid only until Send returns and must not be retained.
	// Send returns after the receiver's rr_handle has returned. Its error
	// reaches the guest as CodeOf(err).
	Send(ctx context.Context, from, to string, payload []byte) error
	// Reply answers the current invocation with payload, a view of the
	// replying guest's memory valid only until Reply returns.
	Reply(ctx context.Context, from string, payload []byte) error
}

// Function is a loaded function: a pool of instances of one module.
// It is safe for concurrent use.
type Function interface {
	Name() string
	// Deliver hands n bytes to an instance: it asks the guest for a buffer
	// (rr_alloc), bounds-checks it, lets fill write into a view of that
	// buffer, then calls rr_handle. The view given to fill is not a copy and
	// is valid only inside fill. If fill returns an error, rr_handle is not
	// called and the error is returned as is: nothing partial reaches the
	// guest's handler. A zero-length payload skips rr_alloc and calls
	// rr_handle(0, 0).
	//
	// Deliver waits for an idle instance until ctx is done, or fails at once
	// with CodeBusy if ctx was made by WithoutWaiting.
	Deliver(ctx context.Context, n uint32, fill func(dst []byte) error) error
	// Stats reports the pool's state.
	Stats() PoolStats
	// Close refuses new deliveries (they fail with CodeCanceled), waits for
	// those in progress until ctx ends, and releases every instance.
	Close(ctx context.Context) error
}

// Instance is one instantiated module, as an engine provides it to [NewPool].
// An Instance is used by one goroutine at a time.
type Instance interface {
	// View returns the n bytes at ptr of the instance's memory: a view, not a
	// copy, capped (three-index slice) so that append cannot spill into the
	// guest's other bytes. It is valid until the next call into the guest,
	// which may grow memory and move it. ok is false if any byte of
	// [ptr, ptr+n) lies outside memory; the sum must not overflow silently.
	View(ptr, n uint32) (view []byte, ok bool)
	// Alloc calls rr_alloc(n). err is non-nil only if the guest trapped,
	// exited or was interrupted; the instance is then discarded.
	Alloc(ctx context.Context, n uint32) (ptr uint32, err error)
	// Handle calls rr_handle(ptr, n) and returns its result. err is as for
	// Alloc.
	Handle(ctx context.Context, ptr, n uint32) (result int32, err error)
	// MemorySize is the size of the instance's linear memory now, in
	// bytes. The pool calls it on every release: it must be cheap and
	// must not allocate.
	MemorySize() uint64
	// Close releases the instance.
	Close(ctx context.Context) error
}

// PoolStats is a snapshot of a pool.
type PoolStats struct {
	Size      int    // most instances at once
	Live      int    // instances created and not discarded
	Idle      int    // instances waiting for work
	Replaced  uint64 // instances discarded after a trap, exit or interruption
	Recycled  uint64 // instances closed on release for a memory above FunctionSpec.RecycleAbove
	Delivered uint64 // payloads handed to rr_handle
}

// Sharer is implemented by a Function loaded with
// [FunctionSpec].SharedMemory by an engine that can share its memories.
type Sharer interface {
	// SharedMemory returns the file the function's instances' memories lie
	// in, or an error saying why it has none (memfd_create refused, say):
	// the function then takes the stream path.
	SharedMemory() (SharedMemory, error)
}

// SharedMemory is a function's linear memories as one file: a memfd
// sealed against shrinking and growing, that the engine maps and another
// process of the host may map too.
type SharedMemory interface {
	// File is the memfd, open until the function is closed.
	File() *os.File
	// Offset returns where the first byte of view, a view of an instance's
	// memory ([Instance].View, or what Deliver's fill is given), lies in
	// the file; ok is false if view is empty or does not lie in the file
	// whole (an instance whose memory could not be placed there).
	Offset(view []byte) (off uint64, ok bool)
}
