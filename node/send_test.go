package node_test

import (
	"bytes"
	"context"
	"fmt"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/internal/wasmbuild"
	"github.com/roadrunner-wasm/roadrunner/node"
	"github.com/roadrunner-wasm/roadrunner/runtime"
	rrwazero "github.com/roadrunner-wasm/roadrunner/runtime/wazero"
	"github.com/roadrunner-wasm/roadrunner/transport"
)

func TestInvoke(t *testing.T) {
	n := startNode(t, "", nil)
	data := pattern(100 << 10)
	body := append([]byte("forward echo\n"), data...)
	var reply bytes.Buffer
	trace, err := n.Invoke(context.Background(), "relay", uint64(len(body)), func(dst []byte) error {
		copy(dst, body)
		return nil
	}, &reply)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(reply.Bytes(), data) {
		t.Fatalf("reply of %d bytes differs from the %d sent", reply.Len(), len(data))
	}
	if len(trace) != 2 || trace[1].Path != transport.PathMemory.String() || trace[1].Bytes != uint64(len(data)) {
		t.Fatalf("trace = %+v", trace)
	}

	// Without a reply writer, a reply is refused: echo's handler fails.
	_, err = n.Invoke(context.Background(), "echo", 1, func(dst []byte) error { dst[0] = 'x'; return nil }, nil)
	if runtime.CodeOf(err) != runtime.CodeReceiverFailed {
		t.Fatalf("echo without a reply writer: err = %v, want receiver failed", err)
	}
	r := n.invoke(t, "relay", []byte("send echo\nx")) // a send to echo: its reply answers the invocation
	if string(r.body) != "x" {
		t.Fatalf("body %q", r.body)
	}
}

// TestSendAllocs checks that a guest-initiated send on the memory path
// allocates nothing on the host: relay sends to counter K times per
// invocation, and the allocations are counted by site with the memory
// profiler for K=100 and K=0. Their difference is what the sends cost.
//
// With interruptible functions (the default) wazero starts a watcher
// goroutine per call into a guest (WithCloseOnContextDone): those engine
// allocations are reported, and only Roadrunner's own are asserted. With
// interruptible: false nothing on the host may allocate per send.
func TestSendAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts: sync.Pool drops items at random under the race detector; make test runs this test again without -race")
	}
	for _, interruptible := range []bool{true, false} {
		t.Run(fmt.Sprintf("interruptible=%v", interruptible), func(t *testing.T) {
			config := strings.ReplaceAll(testConfig, "pool: 1,", fmt.Sprintf("pool: 1, interruptible: %v,", interruptible))
			config = strings.ReplaceAll(config, "pool: 4}", fmt.Sprintf("pool: 4, interruptible: %v}", interruptible))
			n := startNode(t, config, nil)
			ctx := context.Background()
			invoke := func(k int) func() {
				body := fmt.Appendf(nil, "repeat %d counter\nx", k)
				fill := func(dst []byte) error { copy(dst, body); return nil }
				return func() {
					if _, err := n.Invoke(ctx, "relay", uint64(len(body)), fill, nil); err != nil {
						t.Fatal(err)
					}
				}
			}
			const runs, sends = 20, 100
			invoke(sends)() // warm up: instances made, buffers grown
			base := allocSites(runs, invoke(0))
			with := allocSites(runs, invoke(sends))
			perSend := func(owner string) float64 { return float64(with[owner]-base[owner]) / (runs * sends) }
			t.Logf("allocations per send: roadrunner %.3f, wazero %.3f, other %.3f (per invocation without sends: roadrunner %.1f, wazero %.1f)",
				perSend(ownerRoadrunner), perSend(ownerWazero), perSend(ownerOther),
				float64(base[ownerRoadrunner])/runs, float64(base[ownerWazero])/runs)
			// A sync.Pool emptied by a garbage collection refills once: allow
			// that, not one allocation per send.
			if got := perSend(ownerRoadrunner); got >= 0.01 {
				t.Errorf("Roadrunner's code allocates %.3f times per send, want 0", got)
			}
			if got := perSend(ownerWazero); !interruptible && got >= 0.01 {
				t.Errorf("the engine allocates %.3f times per send to an uninterruptible function, want 0", got)
			}
		})
	}
}

const (
	ownerRoadrunner = "roadrunner"
	ownerWazero     = "wazero"
	ownerOther      = "other"
)

// allocSites runs f runs times with every allocation profiled and counts
// the allocated objects by owner: the first frame, walking out from the
// allocation, that belongs to this module, to wazero, or to another module
// (frames of the standard library are skipped: an allocation in
// sync.Pool.Get belongs to whoever called it).
func allocSites(runs int, f func()) map[string]int64 {
	old := goruntime.MemProfileRate
	goruntime.MemProfileRate = 1
	defer func() { goruntime.MemProfileRate = old }()
	before := memProfile()
	for range runs {
		f()
	}
	counts := map[string]int64{}
	for stack, n := range memProfile() {
		counts[ownerOf(stack)] += n - before[stack]
	}
	return counts
}

// memProfile returns the objects allocated so far by stack. The profile is
// published at the end of a GC cycle and lags up to two.
func memProfile() map[[32]uintptr]int64 {
	goruntime.GC()
	goruntime.GC()
	var recs []goruntime.MemProfileRecord
	n, _ := goruntime.MemProfile(nil, true)
	for {
		recs = make([]goruntime.MemProfileRecord, n+50)
		var ok bool
		if n, ok = goruntime.MemProfile(recs, true); ok {
			recs = recs[:n]
			break
		}
	}
	m := make(map[[32]uintptr]int64, len(recs))
	for _, r := range recs {
		m[r.Stack0] += r.AllocObjects
	}
	return m
}

func ownerOf(stack [32]uintptr) string {
	pcs := stack[:]
	for i, pc := range pcs {
		if pc == 0 {
			pcs = pcs[:i]
			break
		}
	}
	frames := goruntime.CallersFrames(pcs)
	for {
		fr, more := frames.Next()
		switch name := fr.Function; {
		case strings.HasPrefix(name, "github.com/roadrunner-wasm/roadrunner/"):
			if !strings.Contains(name, "_test.") && !strings.Contains(name, "node_test.") {
				return ownerRoadrunner
			}
			return ownerOther // the test's own closures
		case strings.HasPrefix(name, "github.com/tetratelabs/wazero"):
			return ownerWazero
		case strings.HasPrefix(name, "github.com/prometheus/"):
			return ownerRoadrunner // the metrics the node updates
		default:
			if first, _, ok := strings.Cut(name, "/"); ok && strings.Contains(first, ".") {
				return ownerOther // another module; the standard library's first elements have no dot
			}
		}
		if !more {
			return ownerOther
		}
	}
}

// TestEngineAllocs measures the wazero engine's own allocations per
// delivery: the counter module loaded straight into an engine, under a
// context like a node's. An uninterruptible function must not allocate; an
// interruptible one is reported, not asserted: wazero's
// WithCloseOnContextDone starts a watcher goroutine per call into a guest.
func TestEngineAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts: the race detector allocates on its own; make test runs this test again without -race")
	}
	ctx := context.Background()
	eng, err := rrwazero.New(ctx, &rrwazero.Options{CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(ctx)
	module := wasmbuild.ModuleForTest(t, testdata+"counter")
	for _, uninterruptible := range []bool{true, false} {
		fn, err := eng.Load(ctx, runtime.FunctionSpec{Name: "counter", Module: module, PoolSize: 1, Uninterruptible: uninterruptible}, refuseHost{})
		if err != nil {
			t.Fatal(err)
		}
		defer fn.Close(ctx)
		dctx, cancel := context.WithTimeout(context.WithValue(ctx, refuseHost{}, 1), node.DefaultInvocationTimeout)
		defer cancel()
		fill := func(dst []byte) error { dst[0] = 'x'; return nil }
		deliver := func() {
			if err := fn.Deliver(dctx, 1, fill); err != nil {
				t.Fatal(err)
			}
		}
		deliver()
		allocs := testing.AllocsPerRun(100, deliver)
		t.Logf("wazero engine, uninterruptible=%v: %.1f allocations per delivery (rr_alloc + rr_handle)", uninterruptible, allocs)
		if uninterruptible && allocs != 0 {
			t.Errorf("an uninterruptible delivery allocates %.1f times, want 0", allocs)
		}
	}
}

// refuseHost is the host of a function loaded outside a node: it refuses
// everything (counter never sends, and replies only to "count").
type refuseHost struct{}

func (refuseHost) Send(context.Context, string, string, []byte) error {
	return runtime.CodeUnknownFunction
}
func (refuseHost) Reply(context.Context, string, []byte) error { return runtime.CodeNoInvocation }

// TestConcurrentInvocations hammers the node from many goroutines: more
// invocations at once than relay and echo have instances, each checking its
// reply is its own payload, intact (run with -race).
func TestConcurrentInvocations(t *testing.T) {
	n := startNode(t, "", nil)
	const workers, rounds = 16, 20
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			for r := range rounds {
				data := fmt.Appendf(nil, "worker %d round %d %s", w, r, pattern(w*1000+r))
				body := append([]byte("forward echo\n"), data...)
				var reply bytes.Buffer
				_, err := n.Invoke(context.Background(), "relay", uint64(len(body)), func(dst []byte) error {
					copy(dst, body)
					return nil
				}, &reply)
				if err != nil {
					errs <- fmt.Errorf("worker %d round %d: %w", w, r, err)
					return
				}
				if !bytes.Equal(reply.Bytes(), data) {
					errs <- fmt.Errorf("worker %d round %d: reply differs from the payload", w, r)
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
