//go:build wasmtime

package wasmtime

import (
	"context"
	"errors"
	"fmt"

	wt "github.com/bytecodealliance/wasmtime-go/v35"

	"github.com/roadrunner-wasm/roadrunner/runtime"
)

// function is the per-function state shared by its instances.
type function struct {
	name          string
	host          runtime.Host
	spec          runtime.FunctionSpec
	eng           *wt.Engine
	interruptible bool
	memLimit      int64 // bytes: the store limiter's memory size
	module        *wt.Module
	initialize    bool // run _initialize per instance
	stdout        *output
	stderr        *output
	names         runtime.NameCache
	bump          func() // increments eng's epoch; made once, so begin does not allocate it

	sendType, replyType *wt.FuncType
}

func (f *function) load(ctx context.Context, cacheDir string) (runtime.Function, error) {
	m, err := compile(f.eng, f.spec.Module, cacheDir, f.interruptible)
	if err != nil {
		return nil, fmt.Errorf("compile: %w", err)
	}
	f.module = m
	if f.initialize, err = runtime.CheckABI(shape(m)); err != nil {
		return nil, err
	}
	i32 := func(n int) []*wt.ValType {
		ts := make([]*wt.ValType, n)
		for i := range ts {
			ts[i] = wt.NewValType(wt.KindI32)
		}
		return ts
	}
	f.sendType = wt.NewFuncType(i32(4), i32(1))
	f.replyType = wt.NewFuncType(i32(2), i32(1))
	if f.spec.Stdout != nil {
		if f.stdout, err = newOutput(f.spec.Stdout); err != nil {
			return nil, fmt.Errorf("stdout: %w", err)
		}
	}
	if f.spec.Stderr != nil {
		if f.stderr, err = newOutput(f.spec.Stderr); err != nil {
			return nil, fmt.Errorf("stderr: %w", err)
		}
	}
	return runtime.NewPool(ctx, f.spec, f.newInstance, f.close)
}

// close releases what load made; the pool has closed every instance first.
func (f *function) close(ctx context.Context) error {
	var errs []error
	if f.module != nil {
		f.module.Close()
		f.module = nil
	}
	for _, t := range []*wt.FuncType{f.sendType, f.replyType} {
		if t != nil {
			t.Close()
		}
	}
	f.sendType, f.replyType = nil, nil
	for _, o := range []*output{f.stdout, f.stderr} {
		if o != nil {
			errs = append(errs, o.close(ctx))
		}
	}
	f.stdout, f.stderr = nil, nil
	return errors.Join(errs...)
}

func (f *function) newInstance(ctx context.Context) (runtime.Instance, error) {
	i := &instance{f: f, store: wt.NewStore(f.eng)}
	if err := i.init(ctx); err != nil {
		i.Close(ctx)
		return nil, err
	}
	return i, nil
}

// send is the "roadrunner" module's send import of instance i.
func (f *function) send(i *instance, c *wt.Caller, args []wt.Val) ([]wt.Val, *wt.Trap) {
	mem := i.mem.UnsafeData(c)
	name, ok := view(mem, args[0].I32(), args[1].I32())
	if !ok {
		return codeBadPointer, nil
	}
	data, ok := view(mem, args[2].I32(), args[3].I32())
	if !ok {
		return codeBadPointer, nil
	}
	err := f.host.Send(i.ctx, f.name, f.names.String(name), data)
	return result(err), nil
}

// reply is the "roadrunner" module's reply import of instance i.
func (f *function) reply(i *instance, c *wt.Caller, args []wt.Val) ([]wt.Val, *wt.Trap) {
	data, ok := view(i.mem.UnsafeData(c), args[0].I32(), args[1].I32())
	if !ok {
		return codeBadPointer, nil
	}
	return result(f.host.Reply(i.ctx, f.name, data)), nil
}

var (
	codeOK         = []wt.Val{wt.ValI32(0)}
	codeBadPointer = []wt.Val{wt.ValI32(int32(runtime.CodeBadPointer))}
)

func result(err error) []wt.Val {
	if err == nil {
		return codeOK
	}
	return []wt.Val{wt.ValI32(int32(runtime.CodeOf(err)))}
}

// view returns mem[ptr:ptr+n], capped, if the range lies inside mem. The
// arguments are a guest's i32s, read as unsigned; the sum is computed in 64
// bits so that it cannot wrap. The result is a view of guest memory, not a
// copy, valid until the next call into the guest or the next growth of its
// memory.
func view(mem []byte, ptr, n int32) ([]byte, bool) {
	p, l := uint64(uint32(ptr)), uint64(uint32(n))
	if p+l > uint64(len(mem)) {
		return nil, false
	}
	return mem[p : p+l : p+l], true
}
