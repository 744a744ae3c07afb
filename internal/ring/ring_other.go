//go:build !linux

package ring

import (
	"errors"
	"fmt"
	"runtime"
	"time"
)

// errNotLinux is the error of every entry point on this system: io_uring
// is Linux's. It wraps errors.ErrUnsupported (docs/RATIONALE.md,
// "Not supported off Linux").
var errNotLinux = fmt.Errorf("io_uring: not on %s: %w", runtime.GOOS, errors.ErrUnsupported)

// Msghdr stands for Linux's struct msghdr in [Ring.SendMsg]: there is no
// ring to hand one to on this system.
type Msghdr struct{}

// Native is the default backend's ring on Linux. On this system [New]
// never returns one, and Native has only [Ring]'s methods, each failing
// with New's error.
type Native struct{}

// New fails on this system with an error wrapping errors.ErrUnsupported.
func New(o *Options) (*Native, error) { return nil, errNotLinux }

// ReadDisabled fails on this system with an error wrapping
// errors.ErrUnsupported: there is no kernel.io_uring_disabled to read.
func ReadDisabled() (int, error) { return 0, errNotLinux }

// Send fails: see [Native].
func (*Native) Send(Op, int, []byte, int) error { return errNotLinux }

// SendZC fails: see [Native].
func (*Native) SendZC(Op, int, []byte, int, uint16) error { return errNotLinux }

// SendMsg fails: see [Native].
func (*Native) SendMsg(Op, int, *Msghdr, int) error { return errNotLinux }

// Recv fails: see [Native].
func (*Native) Recv(Op, int, []byte, int) error { return errNotLinux }

// CancelFD fails: see [Native].
func (*Native) CancelFD(Op, int, uint32) error { return errNotLinux }

// Submit fails: see [Native].
func (*Native) Submit() (int, error) { return 0, errNotLinux }

// Wait fails: see [Native].
func (*Native) Wait([]CQE, int, time.Duration) (int, error) { return 0, errNotLinux }

// Probe fails: see [Native].
func (*Native) Probe() (*Probe, error) { return nil, errNotLinux }

// Features is 0: no kernel set any.
func (*Native) Features() uint32 { return 0 }

// Close has nothing to close.
func (*Native) Close() error { return nil }
