//go:build linux

package ring

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Msghdr is the kernel's struct msghdr, as [Ring.SendMsg] hands it over.
type Msghdr = unix.Msghdr

// set marks op as supported: backends fill a Probe with it.
func (p *Probe) set(op uint8) { p.ops[op] = true }

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
