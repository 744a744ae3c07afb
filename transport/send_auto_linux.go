//go:build linux

package transport

import (
	"context"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// autoSender carries a transfer with write or splice, as the peer's
// autoChooser says (MechanismAuto), timing the writes it samples.
type autoSender struct {
	a      *autoChooser
	write  writevSender
	splice *spliceSender
}

func (s *autoSender) send(ctx context.Context, c *clientConn, t *transfer) error {
	m, sample := s.a.pick(len(t.payload))
	var w writer = &s.write
	if m == MechanismSplice {
		w = s.splice
	}
	if !sample {
		return c.written(ctx, t, w.write(ctx, c, t))
	}
	runtime.LockOSThread()
	start := threadCPU()
	err := w.write(ctx, c, t)
	cpu := threadCPU() - start
	runtime.UnlockOSThread()
	if err == nil && t.mech == m {
		s.a.record(c.p, m, cpu, len(t.payload))
	}
	return c.written(ctx, t, err)
}

func (s *autoSender) abort() {}
func (s *autoSender) close() { s.splice.close() }

// threadCPU is the CPU time (user and system) of the calling thread. The
// goroutine must be locked to its thread for a difference to mean
// anything.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}
