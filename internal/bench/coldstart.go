package bench

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/roadrunner-wasm/roadrunner/runtime"
)

// coldStarts measures, for each engine of o.Engines and each of the
// Roadrunner paths' guests, the load of a module (compile, check, first
// instance: runtime.Engine.Load) with an empty compilation cache, then
// again with the cache it filled, each on a fresh engine.
func coldStarts(ctx context.Context, o *Options) []ColdStart {
	var out []ColdStart
	for _, e := range o.Engines {
		for _, m := range []string{"benchsrc", "benchsink"} {
			cs := ColdStart{Engine: e.Name, Version: e.Version, Module: m}
			cold, cached, err := loadTwice(ctx, e, filepath.Join(o.WasmDir, m+".wasm"))
			cs.ColdS, cs.CachedS = cold.Seconds(), cached.Seconds()
			if err != nil {
				cs.Error = firstLine(err.Error())
			}
			out = append(out, cs)
		}
	}
	return out
}

func loadTwice(ctx context.Context, e Engine, file string) (cold, cached time.Duration, err error) {
	module, err := os.ReadFile(file)
	if err != nil {
		return 0, 0, err
	}
	dir, err := os.MkdirTemp("", "rrbench-cache-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	load := func() (time.Duration, error) {
		eng, err := e.Open(ctx, dir)
		if err != nil {
			return 0, err
		}
		t0 := time.Now()
		fn, err := eng.Load(ctx, runtime.FunctionSpec{Name: "cold", Module: module, PoolSize: 1, Uninterruptible: true}, noHost{})
		d := time.Since(t0)
		if err == nil {
			err = fn.Close(ctx)
		}
		return d, errors.Join(err, eng.Close(ctx))
	}
	if cold, err = load(); err != nil {
		return cold, 0, err
	}
	cached, err = load()
	return cold, cached, err
}

// noHost is the host of a module loaded only to time its start: loading
// runs no handler, so nothing reaches it.
type noHost struct{}

var errNoHost = errors.New("cold start measurement: no host")

func (noHost) Send(context.Context, string, string, []byte) error { return errNoHost }
func (noHost) Reply(context.Context, string, []byte) error        { return errNoHost }
