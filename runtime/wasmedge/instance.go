//go:build wasmedge

package wasmedge

import (
	"context"
	"errors"
	"fmt"
	"sync"

	we "github.com/second-state/WasmEdge-go/wasmedge"

	"github.com/roadrunner-wasm/roadrunner/runtime"
)

// instance is one module instance with its own store and executor: the
// parts of a WasmEdge VM, held separately so that the parsed module is
// shared by the instances of a function. It implements runtime.Instance.
type instance struct {
	f      *function
	exec   *we.Executor
	store  *we.Store
	wasi   *we.Module
	rr     *we.Module // the "roadrunner" host module
	mod    *we.Module // the guest
	mem    *we.Memory
	alloc  *we.Function
	handle *we.Function

	// ctx is the context of the call into the guest in progress, nil
	// between calls: what the host functions pass on. Only the goroutine
	// calling into the guest touches it (host functions run on it).
	ctx context.Context

	// While a call runs under a context that can end, stopWatch removes
	// the context.AfterFunc that runs stopFn when it does, and stopping
	// counts that stop until it has returned.
	stopWatch func() bool
	stopFn    func()
	stopping  sync.WaitGroup
}

func (i *instance) init(ctx context.Context) error {
	f := i.f
	i.stopFn = i.stop
	if i.exec = we.NewExecutorWithConfig(f.conf); i.exec == nil {
		return errors.New("create executor")
	}
	if i.store = we.NewStore(); i.store == nil {
		return errors.New("create store")
	}
	if i.wasi = we.NewWasiModule(nil, nil, nil); i.wasi == nil {
		return errors.New("create WASI module")
	}
	if err := i.exec.RegisterImport(i.store, i.wasi); err != nil {
		return fmt.Errorf("register WASI: %w", err)
	}
	if i.rr = we.NewModule(runtime.ImportModule); i.rr == nil {
		return fmt.Errorf("create module %s", runtime.ImportModule)
	}
	for _, h := range []struct {
		name string
		typ  *we.FunctionType
		fn   func(any, *we.CallingFrame, []any) ([]any, we.Result)
	}{{runtime.ImportSend, f.sendType, f.send}, {runtime.ImportReply, f.replyType, f.reply}} {
		fn := we.NewFunction(h.typ, h.fn, i, 0)
		if fn == nil {
			return fmt.Errorf("create %s.%s", runtime.ImportModule, h.name)
		}
		i.rr.AddFunction(h.name, fn) // the module owns fn from here
	}
	if err := i.exec.RegisterImport(i.store, i.rr); err != nil {
		return fmt.Errorf("register %s: %w", runtime.ImportModule, err)
	}
	if err := i.begin(ctx); err != nil {
		return err
	}
	mod, err := i.exec.Instantiate(i.store, f.ast)
	if err = i.end(err); err != nil {
		return fmt.Errorf("instantiate: %w", err)
	}
	i.mod = mod
	i.mem = mod.FindMemory(runtime.ExportMemory)
	i.alloc = mod.FindFunction(runtime.ExportAlloc)
	i.handle = mod.FindFunction(runtime.ExportHandle)
	if i.mem == nil || i.alloc == nil || i.handle == nil {
		return errors.New("instance lacks an export its module declares")
	}
	if f.initialize {
		init := mod.FindFunction(runtime.ExportInit)
		if init == nil {
			return errors.New("instance lacks an export its module declares")
		}
		if err := i.begin(ctx); err != nil {
			return err
		}
		_, err := i.exec.Invoke(init)
		if err = i.end(err); err != nil {
			return fmt.Errorf("%s: %w", runtime.ExportInit, err)
		}
	}
	return nil
}

// begin prepares a call into the guest under ctx; end, with the call's
// error, follows it. When ctx can end and the function is interruptible,
// begin registers stop to run when it does.
func (i *instance) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	i.ctx = ctx
	if i.f.interruptible && ctx.Done() != nil {
		i.stopping.Add(1)
		i.stopWatch = context.AfterFunc(ctx, i.stopFn)
	}
	return nil
}

func (i *instance) end(err error) error {
	if i.stopWatch != nil {
		if i.stopWatch() {
			i.stopping.Done() // stop will not run
		} else {
			// stop ran, or is running: wait for it, then consume the stop
			// token it may have left if the call returned before seeing
			// it, so that the next call does not stop at once.
			i.stopping.Wait()
			i.exec.Invoke(i.f.nop)
		}
		i.stopWatch = nil
	}
	// A call that failed after its context ended was (most likely)
	// interrupted: say so first, and let errors.Is find the context's error.
	if err != nil && i.ctx.Err() != nil {
		err = fmt.Errorf("interrupted: %w: %w", context.Cause(i.ctx), err)
	}
	i.ctx = nil
	return err
}

// stop makes the call in progress on i's executor end with "interrupted"
// at its next function entry, return or branch. WasmEdge's C API sets an
// executor's stop token only through WasmEdge_AsyncCancel, so stop starts
// an asynchronous call (a thread, in WasmEdge) of the nop host function
// with a wrong argument: it fails at once without touching the token, and
// cancelling it sets the token of the shared executor.
func (i *instance) stop() {
	defer i.stopping.Done()
	a := i.exec.AsyncInvoke(i.f.nop, int32(0))
	if a == nil {
		return
	}
	a.Cancel()
	a.GetResult() // waits for WasmEdge's thread: the executor outlives it
	a.Release()
}

// view returns the n bytes at ptr of the instance's memory, if they lie
// inside it: a view, not a copy, capped so that append cannot spill into
// the guest's other bytes. It is valid until the next call into the guest
// or the next growth of its memory, whichever comes first. The bounds are
// computed in 64 bits, so that ptr+n cannot wrap.
func (i *instance) view(ptr, n uint32) ([]byte, bool) {
	size := uint64(i.mem.GetPageSize()) * 65536
	p, l := uint64(ptr), uint64(n)
	if p+l > size {
		return nil, false
	}
	if l == 0 {
		return []byte{}, true
	}
	b, err := i.mem.GetData(uint(p), uint(l))
	if err != nil || uint64(len(b)) != l {
		return nil, false
	}
	return b[:l:l], true
}

// View implements runtime.Instance.
func (i *instance) View(ptr, n uint32) ([]byte, bool) { return i.view(ptr, n) }

// MemorySize implements runtime.Instance.
func (i *instance) MemorySize() uint64 {
	return uint64(i.mem.GetPageSize()) * runtime.PageSize
}

// Alloc implements runtime.Instance.
func (i *instance) Alloc(ctx context.Context, n uint32) (uint32, error) {
	if err := i.begin(ctx); err != nil {
		return 0, err
	}
	res, err := i.exec.Invoke(i.alloc, int32(n))
	if err = i.end(err); err != nil {
		return 0, err
	}
	return uint32(result0(res)), nil
}

// Handle implements runtime.Instance.
func (i *instance) Handle(ctx context.Context, ptr, n uint32) (int32, error) {
	if err := i.begin(ctx); err != nil {
		return 0, err
	}
	res, err := i.exec.Invoke(i.handle, int32(ptr), int32(n))
	if err = i.end(err); err != nil {
		return 0, err
	}
	return result0(res), nil
}

func result0(res []any) int32 {
	if len(res) == 0 {
		return 0
	}
	v, _ := res[0].(int32)
	return v
}

// Close implements runtime.Instance. It releases every WasmEdge object the
// instance made, in the reverse order of their creation; it is also the
// cleanup of an init that failed half way.
func (i *instance) Close(ctx context.Context) error {
	for _, m := range []**we.Module{&i.mod, &i.rr, &i.wasi} {
		if *m != nil {
			(*m).Release()
			*m = nil
		}
	}
	i.mem, i.alloc, i.handle = nil, nil, nil
	if i.store != nil {
		i.store.Release()
		i.store = nil
	}
	if i.exec != nil {
		i.exec.Release()
		i.exec = nil
	}
	return nil
}
