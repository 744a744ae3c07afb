//go:build wasmedge

package wasmedge

import (
	"context"
	"errors"
	"fmt"
	"sync"

	we "github.com/second-state/WasmEdge-go/wasmedge"

	"github.com/roadrunner-wasm/roadrunner/runtime"
)

// Options configures an Engine. The zero value (or nil) is valid.
type Options struct {
	// MemoryLimitPages caps each instance's linear memory, in 64 KiB pages.
	// Zero means 65536 (4 GiB, the most a 32-bit memory can address). A
	// function's FunctionSpec.MaxMemory lowers it for that function.
	MemoryLimitPages uint32
}

// Engine is the WasmEdge engine. It implements runtime.Engine.
type Engine struct {
	opts Options

	mu     sync.Mutex
	closed bool
}

var _ runtime.Engine = (*Engine)(nil)

var logOff sync.Once

// New returns an engine. The first call turns WasmEdge's own logging off
// for the whole process: WasmEdge logs every trap and interruption to
// stderr, and this package returns them as errors instead.
func New(ctx context.Context, opts *Options) (*Engine, error) {
	logOff.Do(we.SetLogOff)
	e := &Engine{}
	if opts != nil {
		e.opts = *opts
	}
	return e, nil
}

// Name implements runtime.Engine.
func (e *Engine) Name() string { return "wasmedge" }

// Version implements runtime.Engine: the version of the WasmEdge library
// this binary is linked against, as the library reports it.
func (e *Engine) Version() string { return Version() }

// Version is the version of the WasmEdge library in use ("0.14.1").
func Version() string { return we.GetVersion() }

// Close implements runtime.Engine. Each function owns its WasmEdge objects
// and releases them when it is closed; the engine itself holds none.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	return nil
}

var errClosed = errors.New("wasmedge: engine closed")

// Load implements runtime.Engine.
func (e *Engine) Load(ctx context.Context, spec runtime.FunctionSpec, host runtime.Host) (runtime.Function, error) {
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return nil, errClosed
	}
	if spec.Name == "" {
		return nil, errors.New("wasmedge: function name is empty")
	}
	if host == nil {
		return nil, fmt.Errorf("wasmedge: function %s: nil host", spec.Name)
	}
	limit, err := runtime.MemoryLimit(spec, e.opts.MemoryLimitPages)
	if err != nil {
		return nil, fmt.Errorf("wasmedge: function %s: %w", spec.Name, err)
	}
	f := &function{
		name:          spec.Name,
		host:          host,
		spec:          spec,
		interruptible: !spec.Uninterruptible,
		memLimit:      limit,
	}
	fn, err := f.load(ctx)
	if err != nil {
		f.close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("wasmedge: function %s: %w", spec.Name, err)
	}
	return fn, nil
}
