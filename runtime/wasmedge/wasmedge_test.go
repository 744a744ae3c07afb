//go:build wasmedge

package wasmedge_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/internal/wasmbuild"
	"github.com/roadrunner-wasm/roadrunner/runtime"
	"github.com/roadrunner-wasm/roadrunner/runtime/runtimetest"
	"github.com/roadrunner-wasm/roadrunner/runtime/wasmedge"
)

func TestMain(m *testing.M) {
	code := m.Run()
	wasmbuild.Cleanup()
	os.Exit(code)
}

func TestConformance(t *testing.T) {
	runtimetest.Run(t, func(tb testing.TB) runtime.Engine {
		e, err := wasmedge.New(context.Background(), nil)
		if err != nil {
			tb.Fatal(err)
		}
		return e
	})
}

type nopHost struct{}

func (nopHost) Send(context.Context, string, string, []byte) error {
	return runtime.CodeUnknownFunction
}
func (nopHost) Reply(context.Context, string, []byte) error { return nil }

func TestVersion(t *testing.T) {
	if v := wasmedge.Version(); len(v) < 4 || v[:4] != "0.14" {
		t.Fatalf("Version() = %q, want the WasmEdge 0.14 library", v)
	}
}

// A context that ends just after its delivery returned stops the executor
// too late for that call: the stale stop must not end the next delivery.
func TestLateCancelDoesNotStopNextCall(t *testing.T) {
	ctx := context.Background()
	e, err := wasmedge.New(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	fn, err := e.Load(ctx, runtime.FunctionSpec{Name: "f", Module: runtimetest.GuestModule(t), PoolSize: 1}, nopHost{})
	if err != nil {
		t.Fatal(err)
	}
	defer fn.Close(ctx)
	p := []byte("\x00RRCN")
	fill := func(d []byte) error { copy(d, p); return nil }
	for i := range 200 {
		// Deadlines around the length of a delivery, so that some end
		// during a call, some just after.
		cctx, cancel := context.WithTimeout(ctx, time.Duration(i%20)*10*time.Microsecond)
		fn.Deliver(cctx, uint32(len(p)), fill)
		cancel()
		if err := fn.Deliver(ctx, uint32(len(p)), fill); err != nil {
			t.Fatalf("iteration %d: a delivery under a live context failed: %v", i, err)
		}
	}
}
