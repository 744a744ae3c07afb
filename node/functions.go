package node

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roadrunner-wasm/roadrunner/internal/ociwasm"
	"github.com/roadrunner-wasm/roadrunner/runtime"
)

// function is one loaded function and its resolved metrics.
//
// A reload replaces a node's functions while invocations run: the table
// (funcTable) is swapped, and a function taken out of it (removed, or
// replaced by a new version) is retired: it takes no new delivery, finishes
// those it has (refs counts them, waits for an instance included) and is
// closed by the last one to end.
type function struct {
	name    string
	fn      runtime.Function
	cfg     FunctionConfig // as configured, defaults filled in
	metrics functionMetrics
	stdout  *guestLog
	stderr  *guestLog

	digest string // of the module's bytes, "sha256:…"
	source string // the module's file, or its pinned oci:// reference
	adm    *admission

	refs    atomic.Int64 // deliveries that acquired it and have not released it
	retired atomic.Bool  // out of the table: the last release closes it
	closing sync.Once
}

// funcTable is the functions a node hosts now. It is replaced whole by a
// reload and read without a lock.
type funcTable struct {
	fns   map[string]*function
	order []*function // configuration order
}

// add puts f in t, last.
func (t *funcTable) add(f *function) {
	t.fns[f.name] = f
	t.order = append(t.order, f)
}

// function returns the function named name in the current table, or nil.
// The function may be retired under the caller: to deliver to it, acquire.
func (n *Node) function(name string) *function {
	return n.table.Load().fns[name]
}

// acquire returns the function named name with a reference taken, which
// keeps it open until release, or nil if there is none. It does not
// allocate.
func (n *Node) acquire(name string) *function {
	for {
		f := n.table.Load().fns[name]
		if f == nil {
			return nil
		}
		f.refs.Add(1)
		// A reload stores the new table before it retires the old
		// functions: a retired one seen here has a successor (or was
		// removed) in the table loaded next.
		if !f.retired.Load() {
			return f
		}
		n.release(f)
	}
}

// release drops a reference acquire took. The last reference to a retired
// function closes it.
func (n *Node) release(f *function) {
	if f.refs.Add(-1) == 0 && f.retired.Load() {
		n.closeRetired(f)
	}
}

// retire takes f, already out of the table, out of service: it closes at
// once if nothing holds it, else when the last delivery releases it.
func (n *Node) retire(f *function) {
	n.retiring.Add(1)
	f.retired.Store(true)
	if f.refs.Load() == 0 {
		n.closeRetired(f)
	}
}

// closeRetired closes a retired function, once, on a goroutine of its own
// (a delivery's release must not wait for it).
func (n *Node) closeRetired(f *function) {
	f.closing.Do(func() {
		go func() {
			defer n.retiring.Done()
			ctx, cancel := context.WithTimeout(context.Background(), closeGrace)
			defer cancel()
			if err := f.fn.Close(ctx); err != nil {
				n.log.Warn("close retired function", "function", f.name, "err", err)
			}
			f.stdout.flush()
			f.stderr.flush()
			n.metrics.functions.remove(f.fn)
			n.log.Info("function closed", "function", f.name, "module", f.source)
		}()
	})
}

// module is a function's module as read: its bytes, their digest, and
// where they came from (the file, or the oci:// reference pinned by its
// manifest's digest).
type module struct {
	bytes          []byte
	digest, source string
}

// readModule reads a function's module: its file, or the oci:// reference
// pulled through node.registry (from the cache for a reference pinned by
// digest that is there).
func (n *Node) readModule(ctx context.Context, fc FunctionConfig, reg RegistryConfig) (module, error) {
	if !ociwasm.IsReference(fc.Module) {
		b, err := os.ReadFile(fc.Module)
		if err != nil {
			return module{}, fmt.Errorf("function %s: %w", fc.Name, err)
		}
		return module{b, ociwasm.Digest(b), fc.Module}, nil
	}
	o := &ociwasm.Options{AuthFile: reg.AuthFile, PlainHTTP: reg.PlainHTTP, CAFile: reg.CAFile, CacheDir: n.moduleCacheDir(reg)}
	start := time.Now()
	m, err := ociwasm.Pull(ctx, fc.Module, o)
	if err != nil {
		return module{}, fmt.Errorf("function %s: %w", fc.Name, err) // "pull oci://…: …"
	}
	if m.FromCache {
		n.log.Info("module from the cache: pinned by digest, the registry was not asked", "function", fc.Name, "module", m.Reference, "bytes", len(m.Bytes), "cache_dir", o.CacheDir)
	} else {
		n.log.Info("module pulled", "function", fc.Name, "reference", fc.Module, "module", m.Reference, "bytes", len(m.Bytes), "pull_time", time.Since(start).Round(time.Microsecond))
	}
	// Pull checked the layer's bytes against its digest: no second hash.
	return module{m.Bytes, m.Layer, m.Reference}, nil
}

// moduleCacheDir is where pulled modules are kept: node.registry.cache_dir,
// else "modules" beside the compilation cache, else none.
func (n *Node) moduleCacheDir(reg RegistryConfig) string {
	if reg.CacheDir != "" {
		return reg.CacheDir
	}
	switch dir := n.cfg.Node.CacheDir; dir {
	case CacheOff:
		return ""
	case "":
		d, err := runtime.DefaultCacheDir("modules")
		if err != nil {
			return ""
		}
		return d
	default:
		return filepath.Join(dir, "modules")
	}
}

// compile loads m, fc's module, on the node's engine. The function it
// returns is in no table yet. When ctx ends during the compilation, abandon
// (New, with an engine the node owns) leaves it behind (see New); else
// compile waits for it and returns what it made, for the caller to close
// with the rest.
func (n *Node) compile(ctx context.Context, fc FunctionConfig, m module, abandon bool) (*function, error) {
	source := m.source
	f := &function{
		name:   fc.Name,
		cfg:    fc,
		stdout: newGuestLog(n.log, fc.Name, "stdout", slog.LevelInfo),
		stderr: newGuestLog(n.log, fc.Name, "stderr", slog.LevelWarn),
		digest: m.digest,
		source: source,
		adm:    newAdmission(&fc),
	}
	spec := runtime.FunctionSpec{
		Name:     fc.Name,
		Module:   m.bytes,
		PoolSize: fc.Pool,
		Stdout:   f.stdout,
		Stderr:   f.stderr,
		// false unless the config says interruptible: false.
		Uninterruptible: fc.Uninterruptible,
		SharedMemory:    fc.SharedMemory,
		MaxMemory:       fc.MaxMemory,
		RecycleAbove:    fc.RecycleMemory,
	}
	// Compiling a large module takes seconds (less from the engine's
	// compilation cache): say so before, and how long it took after.
	n.log.Info("loading function", "function", fc.Name, "module", source, "bytes", len(m.bytes), "pool", fc.Pool, "engine", n.eng.Name())
	start := time.Now()
	// The engine loads on a goroutine of its own, so that New can leave a
	// compilation behind when ctx ends (see New).
	done := make(chan loadResult, 1)
	go func() {
		fn, err := n.eng.Load(ctx, spec, n)
		done <- loadResult{fn, err}
	}()
	var r loadResult
	select {
	case r = <-done:
	case <-ctx.Done():
		if abandon {
			n.abandoned = done
			return nil, fmt.Errorf("function %s: load %s: %w", fc.Name, source, context.Cause(ctx))
		}
		r = <-done // the caller sees ctx ended, and closes what was made
	}
	if r.err != nil {
		return nil, fmt.Errorf("function %s: load %s: %w", fc.Name, source, r.err)
	}
	f.fn = r.fn
	n.checkShared(f)
	// load_time is the engine's Load: compiling the module (or reading it from
	// the cache) and instantiating the pool.
	n.log.Info("function loaded", "function", fc.Name, "module", source, "load_time", time.Since(start).Round(time.Microsecond), "pool", fc.Pool, "max_payload", fc.MaxPayload, "engine", n.eng.Name())
	return f, nil
}
