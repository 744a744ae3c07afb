package ring

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// Available sets up a two-entry ring, probes it and closes it: nil means
// this process can use io_uring. Otherwise the error wraps the errno of
// the step that failed, so errors.Is(err, unix.ENOSYS) (no io_uring in the
// kernel) and errors.Is(err, unix.EPERM) (disabled, or refused by seccomp)
// work.
func Available() error {
	r, err := New(&Options{Entries: 2})
	if err != nil {
		return err
	}
	_, err = r.Probe()
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	return err
}

// disabledPath is the sysctl kernel.io_uring_disabled (Linux 6.6).
const disabledPath = "/proc/sys/kernel/io_uring_disabled"

// ReadDisabled returns kernel.io_uring_disabled: 0 io_uring is enabled, 1
// only for processes in kernel.io_uring_group (or with CAP_SYS_ADMIN), 2
// disabled. A kernel without the sysctl (before 6.6) reads as 0.
func ReadDisabled() (int, error) {
	b, err := os.ReadFile(disabledPath)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read io_uring_disabled: %w", err)
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", disabledPath, err)
	}
	return v, nil
}
