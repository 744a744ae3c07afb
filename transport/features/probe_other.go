//go:build !linux

package features

import (
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"syscall"
)

// errNotLinux is the cause of every refusal off Linux: the unix and tcp
// paths, their mechanisms and accelerators are built on Linux system
// calls. errors.ErrUnsupported is the standard library's word for it.
var errNotLinux = fmt.Errorf("%s: %w (the unix and tcp paths need Linux)", runtime.GOOS, errors.ErrUnsupported)

func probeUnix() error        { return errNotLinux }
func probeTCP() error         { return errNotLinux }
func probeSplice() error      { return errNotLinux }
func probeVmsplice() error    { return errNotLinux }
func probeSetPipeSize() error { return errNotLinux }
func probeIOURing() error     { return errNotLinux }
func probeSendZC() error      { return errNotLinux }
func probeSockmap() error     { return errNotLinux }
func probeKTLS() error        { return errNotLinux }

// PipeMaxSize reports that there are no pipes to splice through here: 0
// and an error wrapping [ErrNotSupported].
func PipeMaxSize() (int, error) {
	return 0, setPipeSizeTest.result()
}

var kernelVersion = func() string { return "unknown" }

var refusalErrnos = []syscall.Errno{syscall.EPERM, syscall.EINVAL, syscall.ENOSYS, syscall.EOPNOTSUPP}

// isTransientErrno is false off Linux: every refusal there is conclusive.
func isTransientErrno(error) bool { return false }

func errnoName(errno syscall.Errno) string {
	switch errno {
	case syscall.EPERM:
		return "EPERM"
	case syscall.EINVAL:
		return "EINVAL"
	case syscall.ENOSYS:
		return "ENOSYS"
	case syscall.EOPNOTSUPP:
		return "EOPNOTSUPP"
	}
	return "errno " + strconv.Itoa(int(errno))
}
