package wazero

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	goruntime "runtime"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/roadrunner-wasm/roadrunner/runtime"
)

// Options configures an Engine. The zero value (or nil) is valid.
type Options struct {
	// CacheDir is where compiled modules are kept across restarts. Empty
	// means no disk cache (compiled code is still shared in memory between
	// functions of one Engine).
	CacheDir string
	// MemoryLimitPages caps each instance's linear memory, in 64 KiB pages.
	// Zero means 65536 (4 GiB, the most a 32-bit memory can address). A
	// function's FunctionSpec.MaxMemory lowers it for that function.
	MemoryLimitPages uint32
}

// Engine is the wazero engine. It implements runtime.Engine.
type Engine struct {
	opts  Options
	cache wazero.CompilationCache
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
			return nil, fmt.Errorf("wazero: cache dir: %w", err)
		}
		c, err := wazero.NewCompilationCacheWithDir(e.opts.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("wazero: cache dir: %w", err)
		}
		e.cache = c
	} else {
		e.cache = wazero.NewCompilationCache()
	}
	return e, nil
}

// DefaultCacheDir is the cache directory a node uses unless configured
// otherwise: roadrunner/wazero under the user's cache directory
// ($XDG_CACHE_HOME or ~/.cache).
func DefaultCacheDir() (string, error) {
	return runtime.DefaultCacheDir("wazero")
}

// Name implements runtime.Engine.
func (e *Engine) Name() string { return "wazero" }

// Version implements runtime.Engine: the wazero module version linked in.
func (e *Engine) Version() string { return Version() }

// Version is the version of github.com/tetratelabs/wazero in this binary.
func Version() string {
	return runtime.DependencyVersion("github.com/tetratelabs/wazero")
}

// Close implements runtime.Engine.
func (e *Engine) Close(ctx context.Context) error {
	return e.cache.Close(ctx)
}

// Load implements runtime.Engine.
func (e *Engine) Load(ctx context.Context, spec runtime.FunctionSpec, host runtime.Host) (runtime.Function, error) {
	if spec.Name == "" {
		return nil, errors.New("wazero: function name is empty")
	}
	if host == nil {
		return nil, fmt.Errorf("wazero: function %s: nil host", spec.Name)
	}
	limit, err := runtime.MemoryLimit(spec, e.opts.MemoryLimitPages)
	if err != nil {
		return nil, fmt.Errorf("wazero: function %s: %w", spec.Name, err)
	}
	cfg := wazero.NewRuntimeConfig().
		WithCompilationCache(e.cache).
		WithCloseOnContextDone(!spec.Uninterruptible).
		WithMemoryLimitPages(limit)
	r := wazero.NewRuntimeWithConfig(ctx, cfg)
	f := &function{name: spec.Name, host: host, rt: r, spec: spec, limit: limit}
	fn, err := f.load(ctx)
	if err != nil {
		f.close(ctx)
		return nil, fmt.Errorf("wazero: function %s: %w", spec.Name, err)
	}
	if spec.SharedMemory {
		return &sharedFunction{Pool: fn, f: f}, nil
	}
	return fn, nil
}

// sharedFunction is a function loaded with SharedMemory: the pool, and
// the file its memories lie in.
type sharedFunction struct {
	*runtime.Pool
	f *function
}

var _ runtime.Sharer = (*sharedFunction)(nil)

// SharedMemory implements runtime.Sharer.
func (s *sharedFunction) SharedMemory() (runtime.SharedMemory, error) {
	if s.f.sharedErr != nil {
		return nil, s.f.sharedErr
	}
	return s.f.alloc.shared, nil
}

// wazeroMemory leaves instances' memories to wazero's own allocator (it
// grows a memory by copying it into a larger Go slice): for benchmarks
// that compare the two (export_test.go).
var wazeroMemory = false

// function is the per-function state shared by its instances.
type function struct {
	name     string
	host     runtime.Host
	rt       wazero.Runtime
	spec     runtime.FunctionSpec
	compiled wazero.CompiledModule
	modCfg   wazero.ModuleConfig
	seq      atomic.Uint64
	names    runtime.NameCache
	limit    uint32 // the runtime's memory limit, in pages: the engine's, or the function's MaxMemory

	alloc     allocator // every instance's memory comes from it
	sharedErr error     // why the memory is not shared, if SharedMemory was asked for
}

func (f *function) load(ctx context.Context) (*runtime.Pool, error) {
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, f.rt); err != nil {
		return nil, fmt.Errorf("instantiate wasi: %w", err)
	}
	i32 := api.ValueTypeI32
	_, err := f.rt.NewHostModuleBuilder(runtime.ImportModule).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(f.send), []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}).
		WithParameterNames("name_ptr", "name_len", "data_ptr", "data_len").
		Export(runtime.ImportSend).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(f.reply), []api.ValueType{i32, i32}, []api.ValueType{i32}).
		WithParameterNames("data_ptr", "data_len").
		Export(runtime.ImportReply).
		Instantiate(ctx)
	if err != nil {
		return nil, fmt.Errorf("instantiate host module: %w", err)
	}
	compiled, err := f.rt.CompileModule(ctx, f.spec.Module)
	if err != nil {
		return nil, fmt.Errorf("compile: %w", err)
	}
	f.compiled = compiled
	initialize, err := runtime.CheckABI(shape(compiled))
	if err != nil {
		return nil, err
	}
	mc := wazero.NewModuleConfig().
		WithSysWalltime().
		WithSysNanotime().
		WithSysNanosleep().
		WithRandSource(rand.Reader).
		WithStdout(orDiscard(f.spec.Stdout)).
		WithStderr(orDiscard(f.spec.Stderr))
	if initialize {
		mc = mc.WithStartFunctions(runtime.ExportInit)
	} else {
		mc = mc.WithStartFunctions()
	}
	f.modCfg = mc
	size := f.spec.PoolSize
	if size <= 0 {
		size = goruntime.GOMAXPROCS(0)
	}
	if f.spec.SharedMemory {
		f.alloc.shared, f.sharedErr = newSharedFile(f.name, size+1, f.memoryMax(compiled))
	}
	return runtime.NewPool(ctx, f.spec, f.newInstance, f.close)
}

// memoryMax is the most bytes the module's memory may grow to: its
// declared maximum, within the runtime's limit.
func (f *function) memoryMax(m wazero.CompiledModule) uint64 {
	pages := f.limit
	for _, def := range m.ExportedMemories() {
		if max, ok := def.Max(); ok && max < pages {
			pages = max
		}
	}
	return uint64(pages) << 16
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

func (f *function) close(ctx context.Context) error {
	// Instances still busy (the pool gave up waiting) are closed with the
	// runtime: their memories are emptied, not unmapped.
	f.alloc.closing.Store(true)
	err := f.rt.Close(ctx)
	if f.alloc.shared != nil {
		err = errors.Join(err, f.alloc.shared.close())
	}
	return err
}

func (f *function) newInstance(ctx context.Context) (runtime.Instance, error) {
	name := fmt.Sprintf("%s#%d", f.name, f.seq.Add(1))
	// The instance outlives the call that created it: do not let the
	// caller's deadline close it.
	ictx := context.WithoutCancel(ctx)
	if !wazeroMemory {
		ictx = experimental.WithMemoryAllocator(ictx, &f.alloc)
	}
	mod, err := f.rt.InstantiateModule(ictx, f.compiled, f.modCfg.WithName(name))
	if err != nil {
		return nil, err
	}
	return &instance{
		mod:    mod,
		mem:    mod.Memory(),
		alloc:  mod.ExportedFunction(runtime.ExportAlloc),
		handle: mod.ExportedFunction(runtime.ExportHandle),
	}, nil
}

// send is the "roadrunner" module's send import.
func (f *function) send(ctx context.Context, mod api.Module, stack []uint64) {
	mem := mod.Memory()
	name, ok := mem.Read(api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	if !ok {
		stack[0] = api.EncodeI32(int32(runtime.CodeBadPointer))
		return
	}
	data, ok := mem.Read(api.DecodeU32(stack[2]), api.DecodeU32(stack[3]))
	if !ok {
		stack[0] = api.EncodeI32(int32(runtime.CodeBadPointer))
		return
	}
	err := f.host.Send(ctx, f.name, f.names.String(name), data)
	stack[0] = api.EncodeI32(int32(runtime.CodeOf(err)))
}

// reply is the "roadrunner" module's reply import.
func (f *function) reply(ctx context.Context, mod api.Module, stack []uint64) {
	data, ok := mod.Memory().Read(api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	if !ok {
		stack[0] = api.EncodeI32(int32(runtime.CodeBadPointer))
		return
	}
	err := f.host.Reply(ctx, f.name, data)
	stack[0] = api.EncodeI32(int32(runtime.CodeOf(err)))
}
