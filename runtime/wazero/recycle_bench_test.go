package wazero_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/runtime"
	"github.com/roadrunner-wasm/roadrunner/runtime/runtimetest"
	"github.com/roadrunner-wasm/roadrunner/runtime/wazero"
)

// BenchmarkRecycle measures what FunctionSpec.RecycleAbove costs a
// delivery: payloads of 1 KiB (the fixed cost: the guest's memory, a few
// MiB, is above 1 KiB from the start), 1 MiB and 64 MiB to a function of one instance
// that keeps it (never: RecycleAbove 0) or closes it after every delivery
// (always: RecycleAbove at the payload's size, which the guest's memory
// passes as soon as it holds the payload). A recycled delivery pays for
// closing its instance (unmapping its memory) and the next one for
// instantiating a fresh one from the compiled module (the guest's
// _initialize: a Go runtime starting) and growing its memory again (page
// faults on fresh pages). ns/delivery is the mean over b.N deliveries.
//
//	go test -run '^$' -bench Recycle -count 6 ./runtime/wazero/
func BenchmarkRecycle(b *testing.B) {
	module := runtimetest.GuestModule(b)
	e, err := wazero.New(context.Background(), &wazero.Options{CacheDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close(context.Background())
	for _, size := range []int{1 << 10, 1 << 20, 64 << 20} {
		payload := make([]byte, size)
		for i := range payload {
			payload[i] = byte(i)
		}
		// The guest discards payloads starting with its control prefix
		// and opcode N: what is timed is the delivery.
		copy(payload, "\x00RRCN")
		fill := func(dst []byte) error { copy(dst, payload); return nil }
		for _, c := range []struct {
			name  string
			above uint64
		}{{"never", 0}, {"always", uint64(size)}} {
			b.Run(sizeName(size)+"/"+c.name, func(b *testing.B) {
				fn, err := e.Load(context.Background(), runtime.FunctionSpec{Name: "recycle", Module: module, PoolSize: 1, RecycleAbove: c.above}, nullHost{})
				if err != nil {
					b.Fatal(err)
				}
				defer fn.Close(context.Background())
				// Warm: the instance has grown (never) and the first
				// delivery's instance has been recycled once (always).
				if err := fn.Deliver(context.Background(), uint32(size), fill); err != nil {
					b.Fatal(err)
				}
				before := fn.Stats().Recycled
				b.SetBytes(int64(size))
				for b.Loop() {
					if err := fn.Deliver(context.Background(), uint32(size), fill); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/delivery")
				want := uint64(0)
				if c.above > 0 {
					want = uint64(b.N)
				}
				if recycled := fn.Stats().Recycled - before; recycled != want {
					b.Fatalf("%d of %d deliveries recycled, want %d", recycled, b.N, want)
				}
			})
		}
	}
}

func sizeName(n int) string {
	if n < 1<<20 {
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dMiB", n>>20)
}
