package wazero_test

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/roadrunner-wasm/roadrunner/runtime"
	"github.com/roadrunner-wasm/roadrunner/runtime/runtimetest"
)

// BenchmarkHostCall compares wazero's two ways to define the send import —
// the stack path (api.GoModuleFunc, what the engine uses) and the reflection
// path (WithFunc) — with the same body: bounds-check both ranges, cache the
// name. The conformance guest calls send b.N times in a loop with an empty
// payload, so the time per op is one guest-to-host call.
func BenchmarkHostCall(b *testing.B) {
	b.Run("stack", func(b *testing.B) {
		var names runtime.NameCache
		benchHostCall(b, func(bld wazero.HostFunctionBuilder) wazero.HostFunctionBuilder {
			i32 := api.ValueTypeI32
			return bld.WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
				mem := mod.Memory()
				name, ok1 := mem.Read(api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
				_, ok2 := mem.Read(api.DecodeU32(stack[2]), api.DecodeU32(stack[3]))
				if !ok1 || !ok2 {
					stack[0] = api.EncodeI32(int32(runtime.CodeBadPointer))
					return
				}
				_ = names.String(name)
				stack[0] = 0
			}), []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32})
		})
	})
	b.Run("reflect", func(b *testing.B) {
		var names runtime.NameCache
		benchHostCall(b, func(bld wazero.HostFunctionBuilder) wazero.HostFunctionBuilder {
			return bld.WithFunc(func(ctx context.Context, mod api.Module, np, nl, dp, dl uint32) int32 {
				mem := mod.Memory()
				name, ok1 := mem.Read(np, nl)
				_, ok2 := mem.Read(dp, dl)
				if !ok1 || !ok2 {
					return int32(runtime.CodeBadPointer)
				}
				_ = names.String(name)
				return 0
			})
		})
	})
}

func benchHostCall(b *testing.B, send func(wazero.HostFunctionBuilder) wazero.HostFunctionBuilder) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	bld := r.NewHostModuleBuilder(runtime.ImportModule)
	bld = send(bld.NewFunctionBuilder()).Export(runtime.ImportSend)
	bld = bld.NewFunctionBuilder().WithFunc(func(context.Context, uint32, uint32) int32 { return 0 }).Export(runtime.ImportReply)
	if _, err := bld.Instantiate(ctx); err != nil {
		b.Fatal(err)
	}
	mod, err := r.InstantiateWithConfig(ctx, runtimetest.GuestModule(b), wazero.NewModuleConfig().WithStartFunctions("_initialize"))
	if err != nil {
		b.Fatal(err)
	}
	alloc, handle := mod.ExportedFunction(runtime.ExportAlloc), mod.ExportedFunction(runtime.ExportHandle)
	cmd := []byte{0, 'R', 'R', 'C', 'L', 0, 0, 0, 0, 0, 0, 0, 0, 4, 'p', 'e', 'e', 'r'}
	run := func(n int) {
		binary.LittleEndian.PutUint32(cmd[5:], uint32(n))
		res, err := alloc.Call(ctx, uint64(len(cmd)))
		if err != nil {
			b.Fatal(err)
		}
		mod.Memory().Write(uint32(res[0]), cmd)
		if _, err := handle.Call(ctx, res[0], uint64(len(cmd))); err != nil {
			b.Fatal(err)
		}
	}
	run(100)
	b.ResetTimer()
	run(b.N)
}
