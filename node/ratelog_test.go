package node

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestRateLog: a burst of lines per key and interval at Warn, the rest at
// Debug; the first Warn line of the next interval counts those suppressed.
func TestRateLog(t *testing.T) {
	var buf bytes.Buffer
	r := newRateLog(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	clock := time.Unix(1000, 0)
	r.now = func() time.Time { return clock }
	for range 20 {
		r.warn("bad_mac", "refused", "reason", "bad_mac")
	}
	r.warn("no_hello", "refused", "reason", "no_hello")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	warn := func(lines []string, key string) (n int) {
		for _, l := range lines {
			if strings.Contains(l, "level=WARN") && strings.Contains(l, "reason="+key) {
				n++
			}
		}
		return n
	}
	if got := warn(lines, "bad_mac"); got != rateLogBurst {
		t.Errorf("%d Warn lines of one key, want %d", got, rateLogBurst)
	}
	if got := strings.Count(buf.String(), "level=DEBUG"); got != 20-rateLogBurst {
		t.Errorf("%d Debug lines, want the %d suppressed", got, 20-rateLogBurst)
	}
	if got := warn(lines, "no_hello"); got != 1 {
		t.Errorf("another key: %d Warn lines, want 1 (each key has its own burst)", got)
	}
	clock = clock.Add(r.interval + time.Nanosecond)
	buf.Reset()
	r.warn("bad_mac", "refused", "reason", "bad_mac")
	if s := buf.String(); !strings.Contains(s, "level=WARN") || !strings.Contains(s, "suppressed=15") {
		t.Errorf("the next interval's first line: %q; want a warning counting 15 suppressed", s)
	}
}
