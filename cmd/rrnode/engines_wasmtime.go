//go:build wasmtime

package main

import (
	"context"

	"github.com/roadrunner-wasm/roadrunner/runtime"
	rrwasmtime "github.com/roadrunner-wasm/roadrunner/runtime/wasmtime"
)

func init() {
	engines = append(engines, engine{
		name:    "wasmtime",
		version: rrwasmtime.Version,
		open: func(ctx context.Context, cacheDir string) (runtime.Engine, error) {
			return rrwasmtime.New(ctx, &rrwasmtime.Options{CacheDir: cacheDir})
		},
		defaultCacheDir: rrwasmtime.DefaultCacheDir,
	})
}
