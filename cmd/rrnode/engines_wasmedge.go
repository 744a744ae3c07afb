//go:build wasmedge

package main

import (
	"context"

	"github.com/roadrunner-wasm/roadrunner/runtime"
	rrwasmedge "github.com/roadrunner-wasm/roadrunner/runtime/wasmedge"
)

// WasmEdge runs in its interpreter here and has no compilation cache:
// cacheDir is ignored, and the default cache directory is none.
func init() {
	engines = append(engines, engine{
		name:    "wasmedge",
		version: rrwasmedge.Version,
		open: func(ctx context.Context, cacheDir string) (runtime.Engine, error) {
			return rrwasmedge.New(ctx, nil)
		},
		defaultCacheDir: func() (string, error) { return "", nil },
	})
}
