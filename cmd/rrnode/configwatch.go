package main

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Debounce of the config file watch: a burst of events is taken as one
// change once no event came for configQuiet, or configMaxWait after its
// first event if events never stop (a busy directory).
const (
	configQuiet   = 150 * time.Millisecond
	configMaxWait = time.Second
)

// configWatcher calls onChange when the content of a config file changes.
//
// It watches the file's directory, not the file: an editor that renames a
// new file over it, and a Kubernetes ConfigMap update (the file is a
// symlink through ..data, and the update renames a new ..data over the old
// one, then deletes the old target directory) both replace the inode a
// watch on the file would follow. If the file is a symlink, the directory
// of what it resolves to is watched too, resolved again at every event.
// Whatever the events, "changed" means the file's sha256 differs from the
// last one seen (see loaded): a chmod, a touch, an editor's temporary
// files, the deletion of the old ConfigMap directory or a rewrite with the
// same bytes never call onChange. Events are debounced (configQuiet,
// configMaxWait), so that a burst of writes is one change.
type configWatcher struct {
	path     string // absolute, as given: not resolved
	onChange func()
	log      *slog.Logger
	quiet    time.Duration
	maxWait  time.Duration

	w    *fsnotify.Watcher
	done chan struct{}

	mu      sync.Mutex
	last    [sha256.Size]byte // the content last loaded or seen
	target  string            // the directory of what path resolves to, if watched beside path's
	missing bool              // the file could not be read at the last check (logged once)

	checks atomic.Int64 // checks done, onChange called or not: tests wait on it
}

// configWatchOptions are newConfigWatcher's; zero fields take the defaults.
type configWatchOptions struct {
	Quiet   time.Duration // default configQuiet
	MaxWait time.Duration // default configMaxWait
}

// newConfigWatcher watches path, whose content last loaded had the hash
// last. It checks the file once at once (a change between the load and
// the watch is not missed), then at every burst of events; onChange runs
// on the watcher's goroutine, one call at a time, and must not block for
// long. Close stops it.
func newConfigWatcher(path string, last [sha256.Size]byte, onChange func(), log *slog.Logger, o *configWatchOptions) (*configWatcher, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", path, err)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", path, err)
	}
	cw := &configWatcher{path: abs, onChange: onChange, log: log, quiet: configQuiet, maxWait: configMaxWait,
		w: w, done: make(chan struct{}), last: last}
	if o != nil && o.Quiet > 0 {
		cw.quiet = o.Quiet
	}
	if o != nil && o.MaxWait > 0 {
		cw.maxWait = o.MaxWait
	}
	if err := w.Add(filepath.Dir(abs)); err != nil {
		w.Close()
		return nil, fmt.Errorf("watch the directory of %s: %w", path, err)
	}
	cw.followTarget()
	go cw.run()
	return cw, nil
}

// Close stops the watch and waits for its goroutine (and an onChange in
// progress) to end.
func (cw *configWatcher) Close() error {
	err := cw.w.Close()
	<-cw.done
	return err
}

// loaded records the hash of content loaded by someone else (a reload on
// SIGHUP), so that an event for the same content does not reload again.
func (cw *configWatcher) loaded(sum [sha256.Size]byte) {
	cw.mu.Lock()
	cw.last = sum
	cw.mu.Unlock()
}

// followTarget watches the directory of what path resolves to, if that is
// not path's own, and stops watching the previous one. A ConfigMap's
// target directory is deleted on each update: its watch ends with it.
func (cw *configWatcher) followTarget() {
	dir := ""
	if real, err := filepath.EvalSymlinks(cw.path); err == nil {
		if d := filepath.Dir(real); d != filepath.Dir(cw.path) {
			dir = d
		}
	}
	if dir == cw.target {
		return
	}
	if cw.target != "" {
		_ = cw.w.Remove(cw.target) // gone with its directory, often
	}
	cw.target = ""
	if dir != "" {
		if err := cw.w.Add(dir); err != nil {
			cw.log.Debug("config watch: the directory the config file resolves to cannot be watched", "dir", dir, "err", err)
			return
		}
		cw.target = dir
	}
}

func (cw *configWatcher) run() {
	defer close(cw.done)
	cw.check()
	var (
		timer    *time.Timer
		fire     <-chan time.Time
		deadline time.Time // configMaxWait after the burst's first event
	)
	for {
		select {
		case ev, ok := <-cw.w.Events:
			if !ok {
				return
			}
			cw.log.Debug("config watch: event", "event", ev.String())
			cw.followTarget()
			now := time.Now()
			if fire == nil {
				deadline = now.Add(cw.maxWait)
			}
			wait := min(cw.quiet, deadline.Sub(now))
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			fire = timer.C
		case <-fire:
			fire = nil
			cw.followTarget()
			cw.check()
		case err, ok := <-cw.w.Errors:
			if !ok {
				return
			}
			// An overflowed queue lost events: look at the file anyway.
			cw.log.Warn("config watch: error", "config", cw.path, "err", err)
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				cw.check()
			}
		}
	}
}

// check hashes the file and calls onChange if the hash is not the last one.
func (cw *configWatcher) check() {
	defer cw.checks.Add(1)
	data, err := os.ReadFile(cw.path)
	cw.mu.Lock()
	if err != nil {
		// Between an editor's delete and its new file, say: the next
		// event looks again.
		if !cw.missing {
			cw.log.Warn("config watch: the config file cannot be read; no reload until it can", "config", cw.path, "err", err)
		}
		cw.missing = true
		cw.mu.Unlock()
		return
	}
	cw.missing = false
	sum := sha256.Sum256(data)
	changed := sum != cw.last
	cw.last = sum
	cw.mu.Unlock()
	if changed {
		cw.onChange()
	}
}
