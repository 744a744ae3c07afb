package node_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/node"
	"github.com/roadrunner-wasm/roadrunner/runtime"
	rrwazero "github.com/roadrunner-wasm/roadrunner/runtime/wazero"
	"github.com/roadrunner-wasm/roadrunner/transport"
)

// holdEngine is the wazero engine with the deliveries to one function
// held: once the function's rr_handle has returned, its Deliver reports
// the result on handled and returns to the node only when release says so.
// What the node does meanwhile (ACK or not) is what the test watches.
type holdEngine struct {
	runtime.Engine
	name     string
	handled  chan error
	release  chan struct{}
	returned atomic.Bool // a held delivery has returned to the node
}

func newHoldEngine(t *testing.T, name string) *holdEngine {
	t.Helper()
	ctx := context.Background()
	eng, err := rrwazero.New(ctx, &rrwazero.Options{CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	// Registered before the node's cleanup, so it runs after the node has
	// shut down.
	t.Cleanup(func() { eng.Close(ctx) })
	return &holdEngine{Engine: eng, name: name, handled: make(chan error, 16), release: make(chan struct{})}
}

func (e *holdEngine) Load(ctx context.Context, spec runtime.FunctionSpec, host runtime.Host) (runtime.Function, error) {
	fn, err := e.Engine.Load(ctx, spec, host)
	if err != nil || spec.Name != e.name {
		return fn, err
	}
	return &heldFunction{Function: fn, e: e}, nil
}

type heldFunction struct {
	runtime.Function
	e *holdEngine
}

func (f *heldFunction) Deliver(ctx context.Context, n uint32, fill func([]byte) error) error {
	err := f.Function.Deliver(ctx, n, fill) // rr_alloc, fill, rr_handle
	f.e.handled <- err
	<-f.e.release
	f.e.returned.Store(true)
	return err
}

// TestAckAfterHandle: where a node serves frames (unix and tcp), a peer's
// send that takes no reply (the invocation has no reply writer, so the
// DATA frame has no FlagReply and only the ACK answers it) returns only
// after the receiving function's rr_handle has returned and the node has
// its result; and a receiver's failure comes back in that ACK.
func TestAckAfterHandle(t *testing.T) {
	for _, path := range []transport.Path{transport.PathUnix, transport.PathTCP} {
		t.Run(path.String(), func(t *testing.T) {
			eng := newHoldEngine(t, "counter")
			front, _ := startPair(t, path, &node.Options{Engine: eng})
			// Before the nodes shut down (cleanups run last first): a
			// delivery still held after a failure lets go.
			t.Cleanup(func() { close(eng.release) })

			type sent struct {
				trace node.Trace
				err   error
				// afterHeld: the held delivery had returned to the
				// receiving node when the send returned.
				afterHeld bool
			}
			invoke := func(body string) <-chan sent {
				done := make(chan sent, 1)
				go func() {
					trace, err := front.Invoke(context.Background(), "relay", uint64(len(body)),
						func(dst []byte) error { copy(dst, body); return nil }, nil) // no reply writer
					done <- sent{trace, err, eng.returned.Load()}
				}()
				return done
			}
			const deadline = 30 * time.Second

			done := invoke("forward counter\npayload")
			select {
			case err := <-eng.handled:
				if err != nil {
					t.Fatalf("counter's delivery: %v", err)
				}
			case r := <-done:
				t.Fatalf("the send returned (%v, trace %+v) before counter's rr_handle had run", r.err, r.trace)
			case <-time.After(deadline):
				t.Fatalf("counter's rr_handle did not run within %v", deadline)
			}
			// counter's rr_handle has returned; the receiving node does
			// not have its result yet. The sender waits for the ACK,
			// which must carry that result: it must not return before
			// the held delivery does, however long that takes. Meanwhile
			// other sends go through the same nodes.
			// The receiver's failure, in the ACK of a frame that takes
			// no reply: brelay fails, or traps.
			for cmd, want := range map[string]runtime.Code{"fail": runtime.CodeReceiverFailed, "panic": runtime.CodeReceiverTrapped} {
				var r sent
				select {
				case r = <-invoke("forward brelay\n" + cmd):
				case <-time.After(deadline):
					t.Fatalf("forward brelay %s: no answer within %v", cmd, deadline)
				}
				if r.err == nil {
					t.Errorf("forward brelay %s: relay succeeded; want its send to fail", cmd)
				}
				if len(r.trace) != 2 || r.trace[1].To != "brelay" || r.trace[1].Path != path.String() || r.trace[1].Result != want.Label() {
					t.Errorf("forward brelay %s: trace %+v; want relay → brelay over %s, %s", cmd, r.trace, path, want.Label())
				}
			}
			select {
			case r := <-done:
				t.Fatalf("the send without a reply returned (%v) while the receiver had not finished its delivery: the ACK came before rr_handle's result", r.err)
			default:
			}
			eng.release <- struct{}{}
			var r sent
			select {
			case r = <-done:
			case <-time.After(deadline):
				t.Fatalf("the send did not return within %v of the receiver's delivery ending", deadline)
			}
			if !r.afterHeld {
				t.Fatalf("the send without a reply returned before the receiver's delivery did: the ACK came before rr_handle's result")
			}
			if r.err != nil {
				t.Fatalf("relay forward counter: %v", r.err)
			}
			if len(r.trace) != 2 || r.trace[1].To != "counter" || r.trace[1].Path != path.String() || r.trace[1].Result != "ok" {
				t.Errorf("trace %+v; want relay → counter over %s, ok", r.trace, path)
			}
		})
	}
}
