package node

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
)

// guestLog turns what a function's guests write to stdout or stderr into
// log lines tagged with the function's name, one record per line. It is
// shared by the function's instances and safe for concurrent use; lines of
// concurrent instances may interleave, never mix.
type guestLog struct {
	log      *slog.Logger
	function string
	stream   string
	level    slog.Level

	mu  sync.Mutex
	buf []byte // an unfinished line
}

// maxGuestLine is the longest line kept: a guest writing more without a
// newline gets it logged in pieces of this size.
const maxGuestLine = 4096

func newGuestLog(log *slog.Logger, function, stream string, level slog.Level) *guestLog {
	return &guestLog{log: log, function: function, stream: stream, level: level}
}

func (g *guestLog) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.buf = append(g.buf, p...)
	for {
		i := bytes.IndexByte(g.buf, '\n')
		if i < 0 {
			break
		}
		g.emit(g.buf[:i])
		g.buf = g.buf[i+1:]
	}
	for len(g.buf) >= maxGuestLine {
		g.emit(g.buf[:maxGuestLine])
		g.buf = g.buf[maxGuestLine:]
	}
	g.buf = append(g.buf[:0:0], g.buf...) // let the consumed prefix go
	return len(p), nil
}

func (g *guestLog) emit(line []byte) {
	line = bytes.TrimRight(line, "\r")
	if len(line) == 0 {
		return
	}
	g.log.Log(context.Background(), g.level, "guest output", "function", g.function, "stream", g.stream, "text", string(line))
}

// flush logs an unfinished last line.
func (g *guestLog) flush() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.buf) > 0 {
		g.emit(g.buf)
		g.buf = nil
	}
}
