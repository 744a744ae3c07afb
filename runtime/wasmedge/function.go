//go:build wasmedge

package wasmedge

import (
	"context"
	"errors"
	"fmt"

	we "github.com/second-state/WasmEdge-go/wasmedge"

	"github.com/roadrunner-wasm/roadrunner/runtime"
)

// function is the per-function state shared by its instances: the
// configuration, the parsed and validated module (which the instances'
// code refers to, so it lives until the last instance is gone), and the
// types of the host functions.
type function struct {
	name          string
	host          runtime.Host
	spec          runtime.FunctionSpec
	interruptible bool
	memLimit      uint32 // pages
	conf          *we.Configure
	ast           *we.AST
	initialize    bool // run _initialize per instance
	names         runtime.NameCache

	sendType, replyType, nopType *we.FunctionType
	// nop is a host function of no parameters and results, in no module.
	// Invoking it with an argument fails at once, before the executor
	// looks at its stop token: that is how an instance makes its executor
	// stop (see instance.stop). Invoking it properly consumes a stop token
	// left over by a stop that came too late (see instance.end).
	nop *we.Function
}

var errEmptyModule = errors.New("empty module")

func (f *function) load(ctx context.Context) (runtime.Function, error) {
	if len(f.spec.Module) == 0 {
		return nil, errEmptyModule // WasmEdge-go's LoadBuffer indexes buf[0]
	}
	if f.conf = we.NewConfigure(); f.conf == nil {
		return nil, errors.New("create configuration")
	}
	f.conf.SetMaxMemoryPage(uint(f.memLimit))
	loader := we.NewLoaderWithConfig(f.conf)
	if loader == nil {
		return nil, errors.New("create loader")
	}
	ast, err := loader.LoadBuffer(f.spec.Module)
	loader.Release()
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	f.ast = ast
	validator := we.NewValidatorWithConfig(f.conf)
	if validator == nil {
		return nil, errors.New("create validator")
	}
	err = validator.Validate(ast)
	validator.Release()
	if err != nil {
		return nil, fmt.Errorf("validate: %w", err)
	}
	s, err := shape(ast)
	if err != nil {
		return nil, err
	}
	if f.initialize, err = runtime.CheckABI(s); err != nil {
		return nil, err
	}
	i32 := func(n int) []*we.ValType {
		ts := make([]*we.ValType, n)
		for i := range ts {
			ts[i] = we.NewValTypeI32()
		}
		return ts
	}
	f.sendType = we.NewFunctionType(i32(4), i32(1))
	f.replyType = we.NewFunctionType(i32(2), i32(1))
	f.nopType = we.NewFunctionType(nil, nil)
	if f.sendType == nil || f.replyType == nil || f.nopType == nil {
		return nil, errors.New("create host function types")
	}
	if f.nop = we.NewFunction(f.nopType, nop, nil, 0); f.nop == nil {
		return nil, errors.New("create host function")
	}
	return runtime.NewPool(ctx, f.spec, f.newInstance, f.close)
}

// close releases what load made; the pool has closed every instance first.
func (f *function) close(ctx context.Context) error {
	if f.nop != nil {
		f.nop.Release()
		f.nop = nil
	}
	for _, t := range []*we.FunctionType{f.sendType, f.replyType, f.nopType} {
		if t != nil {
			t.Release()
		}
	}
	f.sendType, f.replyType, f.nopType = nil, nil, nil
	if f.ast != nil {
		f.ast.Release()
		f.ast = nil
	}
	if f.conf != nil {
		f.conf.Release()
		f.conf = nil
	}
	return nil
}

func (f *function) newInstance(ctx context.Context) (runtime.Instance, error) {
	i := &instance{f: f}
	if err := i.init(ctx); err != nil {
		i.Close(ctx)
		return nil, err
	}
	return i, nil
}

func nop(any, *we.CallingFrame, []any) ([]any, we.Result) {
	return nil, we.Result_Success
}

// send is the "roadrunner" module's send import; data is its *instance.
func (f *function) send(data any, _ *we.CallingFrame, args []any) ([]any, we.Result) {
	i := data.(*instance)
	name, ok := i.view(arg(args, 0), arg(args, 1))
	if !ok {
		return codes[-runtime.CodeBadPointer], we.Result_Success
	}
	payload, ok := i.view(arg(args, 2), arg(args, 3))
	if !ok {
		return codes[-runtime.CodeBadPointer], we.Result_Success
	}
	return result(f.host.Send(i.ctx, f.name, f.names.String(name), payload)), we.Result_Success
}

// reply is the "roadrunner" module's reply import; data is its *instance.
func (f *function) reply(data any, _ *we.CallingFrame, args []any) ([]any, we.Result) {
	i := data.(*instance)
	payload, ok := i.view(arg(args, 0), arg(args, 1))
	if !ok {
		return codes[-runtime.CodeBadPointer], we.Result_Success
	}
	return result(f.host.Reply(i.ctx, f.name, payload)), we.Result_Success
}

// arg is the i32 argument n, read as unsigned.
func arg(args []any, n int) uint32 {
	v, _ := args[n].(int32)
	return uint32(v)
}

// codes holds the result of a host function for each ABI code, indexed by
// its negation, so that returning a code does not allocate. WasmEdge-go
// copies the values out and keeps no reference to the slice.
var codes = func() [][]any {
	cs := runtime.Codes()
	out := make([][]any, len(cs))
	for i, c := range cs {
		out[i] = []any{int32(c)}
	}
	return out
}()

func result(err error) []any {
	c := runtime.CodeOf(err)
	if i := -int(c); i >= 0 && i < len(codes) {
		return codes[i]
	}
	return []any{int32(c)}
}
