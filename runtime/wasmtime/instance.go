//go:build wasmtime

package wasmtime

import (
	"context"
	"errors"
	"fmt"
	"runtime/cgo"

	wt "github.com/bytecodealliance/wasmtime-go/v35"

	"github.com/roadrunner-wasm/roadrunner/runtime"
)

// instance is one module instance in its own store. It implements
// runtime.Instance.
type instance struct {
	f      *function
	store  *wt.Store
	linker *wt.Linker
	mem    *wt.Memory
	alloc  *wt.Func
	handle *wt.Func
	self   cgo.Handle // for the epoch deadline callback; 0 if none

	// ctx is the context of the call into the guest in progress, nil
	// between calls: what the host functions pass on, and what the epoch
	// deadline callback checks. Only the goroutine calling into the guest
	// touches it (host functions and the callback run on that goroutine).
	ctx context.Context

	// The context.AfterFunc registration that increments the epoch when
	// the context with channel watched ends. It spans a delivery: made by
	// rr_alloc's call, reused by rr_handle's under the same context, and
	// removed when rr_handle returns (or when the instance is closed, or a
	// call under another context replaces it).
	watched   <-chan struct{}
	stopWatch func() bool
}

func (i *instance) init(ctx context.Context) error {
	f := i.f
	if f.memLimit > 0 {
		i.store.Limiter(f.memLimit, -1, -1, -1, -1)
	}
	if f.interruptible {
		i.self = cgo.NewHandle(i)
		if err := setEpochCallback(i.store, i.self); err != nil {
			return err
		}
		i.store.SetEpochDeadline(1)
	}
	wasi := wt.NewWasiConfig()
	for _, o := range []struct {
		out *output
		set func(string) error
	}{{f.stdout, wasi.SetStdoutFile}, {f.stderr, wasi.SetStderrFile}} {
		if o.out == nil {
			continue
		}
		if err := o.set(o.out.path); err != nil {
			wasi.Close()
			return fmt.Errorf("wasi output: %w", err)
		}
	}
	i.store.SetWasi(wasi) // takes wasi

	i.linker = wt.NewLinker(f.eng)
	if err := i.linker.DefineWasi(); err != nil {
		return fmt.Errorf("define wasi: %w", err)
	}
	send := wt.NewFunc(i.store, f.sendType, func(c *wt.Caller, args []wt.Val) ([]wt.Val, *wt.Trap) {
		return f.send(i, c, args)
	})
	reply := wt.NewFunc(i.store, f.replyType, func(c *wt.Caller, args []wt.Val) ([]wt.Val, *wt.Trap) {
		return f.reply(i, c, args)
	})
	if err := i.linker.Define(i.store, runtime.ImportModule, runtime.ImportSend, send); err != nil {
		return fmt.Errorf("define %s.%s: %w", runtime.ImportModule, runtime.ImportSend, err)
	}
	if err := i.linker.Define(i.store, runtime.ImportModule, runtime.ImportReply, reply); err != nil {
		return fmt.Errorf("define %s.%s: %w", runtime.ImportModule, runtime.ImportReply, err)
	}
	var inst *wt.Instance
	err := i.enter(ctx, func() (err error) {
		inst, err = i.linker.Instantiate(i.store, f.module)
		return err
	})
	if err != nil {
		return err
	}
	i.mem = inst.GetExport(i.store, runtime.ExportMemory).Memory()
	i.alloc = inst.GetFunc(i.store, runtime.ExportAlloc)
	i.handle = inst.GetFunc(i.store, runtime.ExportHandle)
	if i.mem == nil || i.alloc == nil || i.handle == nil {
		return errors.New("instance lacks an export its module declares")
	}
	if f.initialize {
		init := inst.GetFunc(i.store, runtime.ExportInit)
		if err := i.enter(ctx, func() error { _, err := init.Call(i.store); return err }); err != nil {
			return fmt.Errorf("%s: %w", runtime.ExportInit, err)
		}
	}
	i.unwatch()
	return nil
}

// enter runs call, a call into the guest, under ctx: when ctx ends, the
// engine's epoch is incremented, and the deadline callback of this store
// ends the call.
func (i *instance) enter(ctx context.Context, call func() error) error {
	if err := i.begin(ctx); err != nil {
		return err
	}
	return i.end(call())
}

// begin prepares a call into the guest under ctx; end, with its result,
// follows it. They are enter without a closure, for the hot path.
func (i *instance) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	i.ctx = ctx
	if done := ctx.Done(); i.f.interruptible && done != nil && done != i.watched {
		if i.stopWatch != nil {
			i.stopWatch()
		}
		i.watched, i.stopWatch = done, context.AfterFunc(ctx, i.f.bump)
	}
	return nil
}

func (i *instance) end(err error) error {
	// A call that failed after its context ended was (most likely)
	// interrupted: say so first, and let errors.Is find the context's error.
	if err != nil && i.ctx.Err() != nil {
		err = fmt.Errorf("interrupted: %w: %w", context.Cause(i.ctx), err)
	}
	i.ctx = nil
	return err
}

// unwatch removes the context.AfterFunc registration, if any.
func (i *instance) unwatch() {
	if i.stopWatch != nil {
		i.stopWatch()
		i.stopWatch, i.watched = nil, nil
	}
}

// View implements runtime.Instance.
func (i *instance) View(ptr, n uint32) ([]byte, bool) {
	return view(i.mem.UnsafeData(i.store), int32(ptr), int32(n))
}

// Alloc implements runtime.Instance.
func (i *instance) Alloc(ctx context.Context, n uint32) (uint32, error) {
	if err := i.begin(ctx); err != nil {
		return 0, err
	}
	res, err := i.alloc.Call(i.store, int32(n))
	err = i.end(err)
	if err != nil {
		return 0, err
	}
	return uint32(res.(int32)), nil
}

// Handle implements runtime.Instance.
func (i *instance) Handle(ctx context.Context, ptr, n uint32) (int32, error) {
	if err := i.begin(ctx); err != nil {
		return 0, err
	}
	res, err := i.handle.Call(i.store, int32(ptr), int32(n))
	err = i.end(err)
	i.unwatch() // the delivery is over
	if err != nil {
		return 0, err
	}
	return res.(int32), nil
}

// MemorySize implements runtime.Instance.
func (i *instance) MemorySize() uint64 {
	return uint64(i.mem.DataSize(i.store))
}

// Close implements runtime.Instance.
func (i *instance) Close(ctx context.Context) error {
	i.unwatch()
	if i.linker != nil {
		i.linker.Close()
		i.linker = nil
	}
	if i.store != nil {
		i.store.Close()
		i.store = nil
	}
	if i.self != 0 {
		i.self.Delete()
		i.self = 0
	}
	return nil
}
