//go:build wasmtime

package wasmtime_test

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/runtime"
	"github.com/roadrunner-wasm/roadrunner/runtime/runtimetest"
	"github.com/roadrunner-wasm/roadrunner/runtime/wasmtime"
	"github.com/roadrunner-wasm/roadrunner/runtime/wazero"
)

type okHost struct{}

func (okHost) Send(context.Context, string, string, []byte) error { return nil }
func (okHost) Reply(context.Context, string, []byte) error        { return nil }

// benchEngines runs bench under a sub-benchmark per engine and
// interruptibility, with the conformance guest loaded as a function of one
// instance, and a context that can end, as a node's invocations have.
func benchEngines(b *testing.B, bench func(b *testing.B, ctx context.Context, fn runtime.Function)) {
	ctx := context.Background()
	for _, e := range []struct {
		name string
		open func() (runtime.Engine, error)
	}{
		{"wazero", func() (runtime.Engine, error) { return wazero.New(ctx, nil) }},
		{"wasmtime", func() (runtime.Engine, error) { return wasmtime.New(ctx, nil) }},
	} {
		for _, un := range []bool{false, true} {
			name := e.name
			if un {
				name += "-uninterruptible"
			}
			b.Run(name, func(b *testing.B) {
				eng, err := e.open()
				if err != nil {
					b.Fatal(err)
				}
				defer eng.Close(ctx)
				fn, err := eng.Load(ctx, runtime.FunctionSpec{Name: "f", Module: runtimetest.GuestModule(b), PoolSize: 1, Uninterruptible: un}, okHost{})
				if err != nil {
					b.Fatal(err)
				}
				defer fn.Close(ctx)
				cctx, cancel := context.WithCancel(ctx)
				defer cancel()
				bench(b, cctx, fn)
			})
		}
	}
}

// BenchmarkEngineHostCall is the cost of one send import with an empty
// payload, through each engine's real host function (bounds checks, the
// name cache, a runtime.Host that returns at once), side by side: the
// conformance guest calls send b.N times in a loop within one delivery.
//
//	make bench-engines
func BenchmarkEngineHostCall(b *testing.B) {
	benchEngines(b, func(b *testing.B, ctx context.Context, fn runtime.Function) {
		cmd := []byte{0, 'R', 'R', 'C', 'L', 0, 0, 0, 0, 0, 0, 0, 0, 4, 'p', 'e', 'e', 'r'}
		run := func(n int) {
			binary.LittleEndian.PutUint32(cmd[5:], uint32(n))
			if err := fn.Deliver(ctx, uint32(len(cmd)), func(d []byte) error { copy(d, cmd); return nil }); err != nil {
				b.Fatal(err)
			}
		}
		run(100)
		b.ResetTimer()
		run(b.N)
	})
}

// BenchmarkEngineDeliver is the cost of one delivery of a 16-byte payload
// (rr_alloc, the copy, rr_handle: two calls into the guest) on each engine,
// interruptible (under a context that can end: wasmtime registers
// context.AfterFunc per call) and not.
func BenchmarkEngineDeliver(b *testing.B) {
	benchEngines(b, func(b *testing.B, ctx context.Context, fn runtime.Function) {
		payload := []byte("\x00RRCN0123456789a") // N: the guest does nothing
		fill := func(d []byte) error { copy(d, payload); return nil }
		b.ReportAllocs()
		for b.Loop() {
			if err := fn.Deliver(ctx, uint32(len(payload)), fill); err != nil {
				b.Fatal(err)
			}
		}
	})
}
