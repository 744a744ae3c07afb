package node_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/internal/wasmbuild"
	"github.com/roadrunner-wasm/roadrunner/node"
	"github.com/roadrunner-wasm/roadrunner/runtime"
	rrwazero "github.com/roadrunner-wasm/roadrunner/runtime/wazero"
	"github.com/roadrunner-wasm/roadrunner/transport"
)

// gatedEngine is a real wazero engine whose Load of the function gate
// waits for release whatever its context says, as a compilation does, and
// which records the order of what happens to it.
type gatedEngine struct {
	runtime.Engine
	gate             string
	entered, release chan struct{}
	freed            sync.Once

	mu     sync.Mutex
	events []string
}

func (e *gatedEngine) event(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.events = append(e.events, s)
}

func (e *gatedEngine) log() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return strings.Join(e.events, ", ")
}

func (e *gatedEngine) Load(ctx context.Context, spec runtime.FunctionSpec, host runtime.Host) (runtime.Function, error) {
	if spec.Name == e.gate {
		close(e.entered)
		<-e.release
	}
	fn, err := e.Engine.Load(ctx, spec, host)
	if err != nil {
		return nil, err
	}
	e.event("loaded " + spec.Name)
	return &recordedFunction{Function: fn, e: e}, nil
}

func (e *gatedEngine) Close(ctx context.Context) error {
	e.event("engine closed")
	return e.Engine.Close(ctx)
}

type recordedFunction struct {
	runtime.Function
	e *gatedEngine
}

func (f *recordedFunction) Close(ctx context.Context) error {
	f.e.event("closed " + f.Name())
	return f.Function.Close(ctx)
}

// newGated loads a config of two functions, echo then relay, with relay's
// Load held, and cancels New's context once that Load has begun.
func newGated(t *testing.T, closeEngine bool) (*gatedEngine, chan error) {
	t.Helper()
	eng, err := rrwazero.New(context.Background(), &rrwazero.Options{CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	g := &gatedEngine{Engine: eng, gate: "relay", entered: make(chan struct{}), release: make(chan struct{})}
	// A failed assertion must not leave the Load held, nor the engine open.
	t.Cleanup(g.free)
	cfg, err := node.ParseConfig([]byte(strings.NewReplacer(
		"{{echo}}", wasmbuild.ForTest(t, testdata+"echo"),
		"{{relay}}", wasmbuild.ForTest(t, testdata+"relay"),
	).Replace("functions:\n  - {name: echo, module: {{echo}}}\n  - {name: relay, module: {{relay}}}\n")), filepath.Join(t.TempDir(), "node.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	t.Cleanup(func() { cancel(nil) })
	created := make(chan error, 1)
	go func() {
		n, err := node.New(ctx, cfg, &node.Options{Engine: g, CloseEngine: closeEngine, Accel: transport.AccelNone, Logger: slog.New(slog.DiscardHandler)})
		if n != nil {
			n.Shutdown(context.Background())
		}
		created <- err
	}()
	select {
	case <-g.entered:
	case err := <-created:
		t.Fatalf("New returned before relay's Load: %v", err)
	}
	cancel(errStopped)
	return g, created
}

var errStopped = errors.New("stopped by the test")

// A node that owns its engine returns from New as soon as its context ends,
// in the middle of a Load; that Load's function is closed when it is done,
// and only then the engine.
func TestNewAbandonsLoad(t *testing.T) {
	g, created := newGated(t, true)
	// relay's Load is still held: New must return without it.
	select {
	case err := <-created:
		if !errors.Is(err, errStopped) {
			t.Fatalf("New: %v, want the context's cause", err)
		}
	case <-time.After(time.Minute):
		g.free()
		t.Fatal("New still running a minute after its context ended, waiting for a Load")
	}
	if got, want := g.log(), "loaded echo, closed echo"; got != want {
		t.Fatalf("when New returned: %s; want %s (the engine not closed under relay's Load)", got, want)
	}
	g.free()
	want := "loaded echo, closed echo, loaded relay, closed relay, engine closed"
	deadline := time.Now().Add(time.Minute)
	for g.log() != want {
		if time.Now().After(deadline) {
			t.Fatalf("after the abandoned Load returned: %s; want %s", g.log(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// With an engine the caller keeps, New waits for the Load under way (the
// caller may close the engine when New returns), closes what it loaded
// and leaves the engine open.
func TestNewWaitsForLoadOfCallersEngine(t *testing.T) {
	g, created := newGated(t, false)
	g.free()
	if err := <-created; !errors.Is(err, errStopped) {
		t.Fatalf("New: %v, want the context's cause", err)
	}
	if got, want := g.log(), "loaded echo, loaded relay, closed echo, closed relay"; got != want {
		t.Fatalf("when New returned: %s; want %s", got, want)
	}
	if err := g.Engine.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// free lets the held Load go on; a second call does nothing.
func (e *gatedEngine) free() { e.freed.Do(func() { close(e.release) }) }
