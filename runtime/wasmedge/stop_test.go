//go:build wasmedge

package wasmedge

import (
	"context"
	"testing"

	we "github.com/second-state/WasmEdge-go/wasmedge"

	"github.com/roadrunner-wasm/roadrunner/runtime"
	"github.com/roadrunner-wasm/roadrunner/runtime/runtimetest"
)

type okHost struct{}

func (okHost) Send(context.Context, string, string, []byte) error { return nil }
func (okHost) Reply(context.Context, string, []byte) error        { return nil }

// A stop that comes after its call returned leaves the executor's stop
// token set. The race is too narrow to provoke from outside, so this test
// plays it: it stops an idle instance, checks that the token does stop
// the next call (the premise), stops it again, lets end see a stop that
// already ran, and checks that the next call runs.
func TestStaleStopTokenIsConsumed(t *testing.T) {
	ctx := context.Background()
	logOff.Do(we.SetLogOff) // as New does
	f := &function{name: "f", host: okHost{}, spec: runtime.FunctionSpec{Name: "f", Module: runtimetest.GuestModule(t), PoolSize: 1}, interruptible: true, memLimit: 65536}
	fn, err := f.load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer fn.Close(ctx)
	inst, err := f.newInstance(ctx)
	if err != nil {
		t.Fatal(err)
	}
	i := inst.(*instance)
	defer i.Close(ctx)

	i.stopping.Add(1)
	i.stop()
	if _, err := i.Alloc(ctx, 16); err == nil {
		t.Fatal("a call after a stop ran: the stop token is not what this package thinks it is")
	}

	i.stopping.Add(1)
	i.stop()
	i.ctx = ctx
	i.stopWatch = func() bool { return false } // the AfterFunc already ran
	if err := i.end(nil); err != nil {
		t.Fatal(err)
	}
	if ptr, err := i.Alloc(ctx, 16); err != nil || ptr == 0 {
		t.Fatalf("the call after a late stop: rr_alloc = %d, %v", ptr, err)
	}
}
