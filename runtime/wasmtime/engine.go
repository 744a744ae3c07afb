//go:build wasmtime

package wasmtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	wt "github.com/bytecodealliance/wasmtime-go/v35"

	"github.com/roadrunner-wasm/roadrunner/runtime"
)

// modulePath is the wasmtime-go module this package is built against.
const modulePath = "github.com/bytecodealliance/wasmtime-go/v35"

// Options configures an Engine. The zero value (or nil) is valid.
type Options struct {
	// CacheDir is where compiled modules are kept across restarts. Empty
	// means no disk cache.
	CacheDir string
	// MemoryLimitPages caps each instance's linear memory, in 64 KiB pages.
	// Zero means 65536 (4 GiB, the most a 32-bit memory can address). A
	// function's FunctionSpec.MaxMemory lowers it for that function.
	MemoryLimitPages uint32
}

// Engine is the Wasmtime engine. It implements runtime.Engine.
type Engine struct {
	opts Options

	// epoch compiles with epoch checks, for interruptible functions.
	epoch *wt.Engine

	mu     sync.RWMutex
	plain  *wt.Engine // without epoch checks, for uninterruptible functions; made on first use
	closed bool
}

var _ runtime.Engine = (*Engine)(nil)

// New returns an engine. It creates opts.CacheDir if needed.
func New(ctx context.Context, opts *Options) (*Engine, error) {
	e := &Engine{}
	if opts != nil {
		e.opts = *opts
	}
	if e.opts.CacheDir != "" {
		if err := os.MkdirAll(e.opts.CacheDir, 0o700); err != nil {
			return nil, fmt.Errorf("wasmtime: cache dir: %w", err)
		}
	}
	e.epoch = newWasmtimeEngine(true)
	return e, nil
}

func newWasmtimeEngine(epoch bool) *wt.Engine {
	cfg := wt.NewConfig()
	cfg.SetEpochInterruption(epoch)
	return wt.NewEngineWithConfig(cfg) // takes cfg
}

// DefaultCacheDir is the cache directory for this engine unless configured
// otherwise: roadrunner/wasmtime under the user's cache directory
// ($XDG_CACHE_HOME or ~/.cache).
func DefaultCacheDir() (string, error) {
	return runtime.DefaultCacheDir("wasmtime")
}

// Name implements runtime.Engine.
func (e *Engine) Name() string { return "wasmtime" }

// Version implements runtime.Engine: the wasmtime-go module version linked
// in, which is also the Wasmtime version of its static library.
func (e *Engine) Version() string { return Version() }

// Version is the version of wasmtime-go in this binary.
func Version() string {
	return runtime.DependencyVersion(modulePath)
}

// Close implements runtime.Engine.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	e.epoch.Close()
	if e.plain != nil {
		e.plain.Close()
	}
	return nil
}

var errClosed = errors.New("wasmtime: engine closed")

// bumpEpoch increments the epoch of the interruptible engine, unless it is
// closed: a context.AfterFunc may fire after every function and the engine
// have been closed.
func (e *Engine) bumpEpoch() {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if !e.closed {
		e.epoch.IncrementEpoch()
	}
}

// engineFor returns the wasmtime engine that compiles for spec.
func (e *Engine) engineFor(uninterruptible bool) (*wt.Engine, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, errClosed
	}
	if !uninterruptible {
		return e.epoch, nil
	}
	if e.plain == nil {
		e.plain = newWasmtimeEngine(false)
	}
	return e.plain, nil
}

// Load implements runtime.Engine.
func (e *Engine) Load(ctx context.Context, spec runtime.FunctionSpec, host runtime.Host) (runtime.Function, error) {
	if spec.Name == "" {
		return nil, errors.New("wasmtime: function name is empty")
	}
	if host == nil {
		return nil, fmt.Errorf("wasmtime: function %s: nil host", spec.Name)
	}
	eng, err := e.engineFor(spec.Uninterruptible)
	if err != nil {
		return nil, err
	}
	limit, err := runtime.MemoryLimit(spec, e.opts.MemoryLimitPages)
	if err != nil {
		return nil, fmt.Errorf("wasmtime: function %s: %w", spec.Name, err)
	}
	f := &function{
		name:          spec.Name,
		host:          host,
		spec:          spec,
		eng:           eng,
		interruptible: !spec.Uninterruptible,
		bump:          e.bumpEpoch,
		memLimit:      int64(limit) * runtime.PageSize,
	}
	fn, err := f.load(ctx, e.opts.CacheDir)
	if err != nil {
		f.close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("wasmtime: function %s: %w", spec.Name, err)
	}
	return fn, nil
}
