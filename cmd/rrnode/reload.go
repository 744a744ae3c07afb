package main

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/roadrunner-wasm/roadrunner/node"
)

// Reload states: a reload runs only while the node serves.
const (
	reloadStarting = iota
	reloadServing
	reloadDraining
)

// reloader runs rrnode start's reloads: on SIGHUP, and when the config
// file's content changes (configWatcher). SIGHUP is handled from the first
// step of start-up, so that it never kills the process (Go's default);
// before the node serves and once it drains, a trigger is logged and
// ignored. Reloads run one at a time, on the reloader's goroutine; triggers
// that come during one are coalesced into one more.
type reloader struct {
	log  *slog.Logger
	load func() (*node.Config, [sha256.Size]byte, error)

	hup     chan os.Signal
	changed chan struct{} // the watcher's: the file's content changed
	quit    chan struct{}
	done    chan struct{}

	// ctx is every reload's: drain cancels it, ending the one in
	// progress, before it waits for it (mu).
	ctx    context.Context
	cancel context.CancelFunc

	mu    sync.Mutex // held by a reload, and to change state
	state int
	n     *node.Node
	watch *configWatcher
}

// notifyHUP handles SIGHUP from now on, on the returned channel: Go's
// default for it ends the process. rrnode start calls it first thing.
func notifyHUP() chan os.Signal {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	return hup
}

// newReloader takes the SIGHUPs of hup (notifyHUP's) from now on, in the
// starting state; load reads the config file as start-up did and returns
// the hash of the bytes it read (zero if it could not read them).
func newReloader(log *slog.Logger, hup chan os.Signal, load func() (*node.Config, [sha256.Size]byte, error)) *reloader {
	r := &reloader{log: log, load: load, hup: hup, changed: make(chan struct{}, 1),
		quit: make(chan struct{}), done: make(chan struct{})}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	go r.run()
	return r
}

// serve lets reloads apply to n from now on, and starts the file watch
// (if watch) from the hash of the config start-up loaded. A watch that
// cannot start is logged: SIGHUP still reloads.
func (r *reloader) serve(n *node.Node, config string, sum [sha256.Size]byte, watch bool) {
	var cw *configWatcher
	if watch {
		var err error
		cw, err = newConfigWatcher(config, sum, r.fileChanged, r.log, nil)
		if err != nil {
			r.log.Warn("config file not watched: reload with SIGHUP", "config", config, "err", err)
		}
	}
	r.mu.Lock()
	r.n, r.state, r.watch = n, reloadServing, cw
	r.mu.Unlock()
}

// fileChanged is the watcher's callback.
func (r *reloader) fileChanged() {
	select {
	case r.changed <- struct{}{}:
	default: // one is pending already
	}
}

// drain ends reloads: a reload in progress is cancelled and waited for,
// the file watch stops, later triggers are ignored. SIGHUP stays handled.
func (r *reloader) drain() {
	r.cancel()
	r.mu.Lock() // a reload in progress holds mu until it returns
	r.state = reloadDraining
	cw := r.watch
	r.watch = nil
	r.mu.Unlock()
	if cw != nil {
		cw.Close()
	}
}

// close ends reloads and the reloader's goroutine; rrnode start calls it
// as it returns (SIGHUP is handled until then).
func (r *reloader) close() {
	r.drain()
	close(r.quit)
	<-r.done
}

func (r *reloader) run() {
	defer close(r.done)
	for {
		select {
		case <-r.quit:
			return
		case <-r.hup:
			r.reload("SIGHUP")
		case <-r.changed:
			r.reload("config file changed")
		}
	}
}

// reload reads the config again and applies it to the node, if it serves.
func (r *reloader) reload(trigger string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.state == reloadStarting:
		r.log.Info("reload ignored: the node is starting", "trigger", trigger)
		return
	case r.state == reloadDraining || r.ctx.Err() != nil: // drain began, waiting for mu
		r.log.Info("reload ignored: the node is draining", "trigger", trigger)
		return
	}
	cw := r.watch
	r.log.Info("reloading the config", "trigger", trigger)
	// The node logs what the reload changed (or why it changed nothing),
	// and counts it: rr_config_reloads_total.
	r.n.Reload(r.ctx, func() (*node.Config, error) {
		cfg, sum, err := r.load()
		if sum != ([sha256.Size]byte{}) && cw != nil { // read, valid or not
			cw.loaded(sum)
		}
		return cfg, err
	})
}
