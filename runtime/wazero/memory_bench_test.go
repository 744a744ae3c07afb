package wazero_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/runtime"
	"github.com/roadrunner-wasm/roadrunner/runtime/runtimetest"
	"github.com/roadrunner-wasm/roadrunner/runtime/wazero"
)

// nullHost takes every send and reply.
type nullHost struct{}

func (nullHost) Send(context.Context, string, string, []byte) error { return nil }
func (nullHost) Reply(context.Context, string, []byte) error        { return nil }

// BenchmarkFirstPayload measures the memory path's cold payload against
// its warm one: a function is loaded afresh, and a payload of 64 MiB is
// delivered to it twice; cold-ns is the first delivery (its guest's
// memory grows by 64 MiB in rr_alloc), warm-ns the second (the same
// buffer). With wazero's own allocator (wazero-memory) growing copies the
// memory into a new Go slice; with this package's (reserved) it commits
// pages of a reservation in place. Medians of b.N loads:
//
//	go test -run '^$' -bench FirstPayload -benchtime 10x ./runtime/wazero/
func BenchmarkFirstPayload(b *testing.B) {
	module := runtimetest.GuestModule(b)
	payload := make([]byte, 64<<20)
	for i := range payload {
		payload[i] = byte(i)
	}
	for _, c := range []struct {
		name   string
		wazero bool
	}{{"reserved", false}, {"wazero-memory", true}} {
		b.Run(c.name, func(b *testing.B) {
			wazero.UseWazeroMemory(c.wazero)
			defer wazero.UseWazeroMemory(false)
			e, err := wazero.New(context.Background(), &wazero.Options{CacheDir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close(context.Background())
			// The guest discards payloads starting with its control prefix
			// and opcode N: what is timed is the delivery.
			copy(payload, "\x00RRCN")
			fill := func(dst []byte) error { copy(dst, payload); return nil }
			var cold, warm []time.Duration
			for b.Loop() {
				fn, err := e.Load(context.Background(), runtime.FunctionSpec{Name: "first", Module: module, PoolSize: 1}, nullHost{})
				if err != nil {
					b.Fatal(err)
				}
				for i := range 2 {
					t0 := time.Now()
					if err := fn.Deliver(context.Background(), uint32(len(payload)), fill); err != nil {
						b.Fatal(err)
					}
					if i == 0 {
						cold = append(cold, time.Since(t0))
					} else {
						warm = append(warm, time.Since(t0))
					}
				}
				fn.Close(context.Background())
			}
			slices.Sort(cold)
			slices.Sort(warm)
			b.ReportMetric(float64(cold[len(cold)/2]), "cold-ns")
			b.ReportMetric(float64(warm[len(warm)/2]), "warm-ns")
			b.ReportMetric(float64(cold[len(cold)/2])/float64(warm[len(warm)/2]), "cold/warm")
		})
	}
}
