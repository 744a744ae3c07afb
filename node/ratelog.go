package node

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// rateLog writes at most burst lines per interval for each key (a kind of
// refusal, say) at Warn level and counts the rest, which the next line
// written for that key reports as suppressed: a flood of bad connections
// costs a few lines, not one each. The counters in /metrics keep the full
// count, and a node logging at Debug level writes the suppressed lines
// there (--log-level debug shows every one).
type rateLog struct {
	out      *slog.Logger
	burst    int
	interval time.Duration
	now      func() time.Time // time.Now; a test's clock

	mu   sync.Mutex
	keys map[string]*rateWindow
}

type rateWindow struct {
	start      time.Time
	written    int
	suppressed int
}

// Defaults of the node's rate-limited logs.
const (
	rateLogBurst    = 5
	rateLogInterval = 10 * time.Second
	rateLogMaxKeys  = 64 // keys are reasons, a small fixed set; a bound all the same
)

func newRateLog(log *slog.Logger) *rateLog {
	return &rateLog{out: log, burst: rateLogBurst, interval: rateLogInterval, now: time.Now, keys: map[string]*rateWindow{}}
}

// warn logs msg with args at Warn level unless key has had burst lines in
// the current interval; the first line of a new interval carries the
// count of those suppressed in the one before ("suppressed").
func (r *rateLog) warn(key, msg string, args ...any) {
	r.log(slog.LevelWarn, key, msg, args...)
}

// log is warn at level.
func (r *rateLog) log(level slog.Level, key, msg string, args ...any) {
	now := r.now()
	r.mu.Lock()
	w := r.keys[key]
	if w == nil {
		if len(r.keys) >= rateLogMaxKeys {
			for k, old := range r.keys {
				if now.Sub(old.start) > r.interval {
					delete(r.keys, k)
				}
			}
		}
		w = &rateWindow{start: now}
		r.keys[key] = w
	}
	if now.Sub(w.start) > r.interval {
		w.start, w.written = now, 0
	}
	if w.written >= r.burst {
		w.suppressed++
		r.mu.Unlock()
		r.out.Debug(msg, args...)
		return
	}
	w.written++
	suppressed := w.suppressed
	w.suppressed = 0
	r.mu.Unlock()
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	r.out.Log(context.Background(), level, msg, args...)
}

// rateWriter is a log.Logger's output (net/http's ErrorLog) into a rateLog:
// every line a warning under one key.
type rateWriter struct{ r *rateLog }

func (w rateWriter) Write(p []byte) (int, error) {
	w.r.warn("http/server", "http server: "+strings.TrimSpace(string(p)))
	return len(p), nil
}
