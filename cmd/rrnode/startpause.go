package main

import (
	"context"
	"os"
	"sync"

	"github.com/roadrunner-wasm/roadrunner/node"
	"github.com/roadrunner-wasm/roadrunner/runtime"
	rrwazero "github.com/roadrunner-wasm/roadrunner/runtime/wazero"
)

// startPauseEnv is a hook for tests only (tests/startstop_test.go), not a
// feature: set to a stage of rrnode start (config, ingress, engine, load,
// listen, serve), it makes start-up log
//
//	msg="start-up paused" stage=STAGE
//
// when it reaches that stage and wait there until it is stopped (SIGINT,
// SIGTERM), so that a test signals a starting node at a known moment
// instead of guessing timings. At load the wait is inside the engine's
// first Load, after the accelerators are on (the sockmap pinned), and it
// ignores the stop as a compilation does: node.New must abandon it.
const startPauseEnv = "RR_TEST_START_PAUSE"

// pause holds start-up at stage until ctx ends, if RR_TEST_START_PAUSE
// names stage (load's pause is pauseInLoad's).
func (s *startup) pause(stage string) {
	if stage == "load" || os.Getenv(startPauseEnv) != stage {
		return
	}
	s.log.Info("start-up paused", "stage", stage)
	<-s.ctx.Done()
}

// pauseInLoad returns rt, or, if RR_TEST_START_PAUSE=load, an engine
// whose first Load holds start-up (rt, or a wazero engine as node.New
// would make for a nil rt).
func (s *startup) pauseInLoad(rt runtime.Engine) runtime.Engine {
	if os.Getenv(startPauseEnv) != "load" {
		return rt
	}
	if rt == nil {
		dir, err := node.CacheDir(s.cfg.Node.CacheDir, rrwazero.DefaultCacheDir)
		if err != nil {
			return nil
		}
		if rt, err = rrwazero.New(s.ctx, &rrwazero.Options{CacheDir: dir}); err != nil {
			return nil
		}
	}
	return &pausedEngine{Engine: rt, s: s}
}

// pausedEngine is an engine whose first Load logs the pause and then
// blocks for an hour whatever its context says, as a compilation that
// cannot be interrupted.
type pausedEngine struct {
	runtime.Engine
	s    *startup
	once sync.Once
}

func (e *pausedEngine) Load(ctx context.Context, spec runtime.FunctionSpec, host runtime.Host) (runtime.Function, error) {
	e.once.Do(func() {
		e.s.log.Info("start-up paused", "stage", "load", "function", spec.Name)
		select {} // as a compilation that no signal interrupts
	})
	return e.Engine.Load(ctx, spec, host)
}
