//go:build linux

package bpf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// bpffsRoot is where bpffs is mounted by convention.
const bpffsRoot = "/sys/fs/bpf"

// ensureBPFFS makes dir, a directory on bpffs, with mode 0700, mounting
// bpffs at /sys/fs/bpf first if dir lies under it and nothing is mounted
// there.
func ensureBPFFS(dir string) error {
	if err := rlimit.RemoveMemlock(); err != nil { // kernels before 5.11
		return fmt.Errorf("bpf: %w: %w", ErrNotSupported, err)
	}
	if dir == bpffsRoot || strings.HasPrefix(dir, bpffsRoot+"/") {
		if ok, _ := isBPFFS(bpffsRoot); !ok {
			if err := os.MkdirAll(bpffsRoot, 0o755); err != nil {
				return fmt.Errorf("bpf: %w: %w", ErrNotSupported, err)
			}
			if err := unix.Mount("bpf", bpffsRoot, "bpf", 0, "mode=0700"); err != nil {
				return fmt.Errorf("bpf: %w: mount bpffs on %s: %w", ErrNotSupported, bpffsRoot, err)
			}
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		if errors.Is(err, os.ErrPermission) {
			return fmt.Errorf("bpf: %w: %w", ErrNotSupported, err)
		}
		return fmt.Errorf("bpf: %w", err)
	}
	ok, err := isBPFFS(dir)
	if err != nil {
		return fmt.Errorf("bpf: %w", err)
	}
	if !ok {
		return fmt.Errorf("bpf: %w: %s is not on bpffs", ErrNotSupported, dir)
	}
	return nil
}

func isBPFFS(path string) (bool, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return false, &os.PathError{Op: "statfs", Path: path, Err: err}
	}
	return uint32(st.Type) == unix.BPF_FS_MAGIC, nil
}

// lockDir opens dir and takes a flock on it (how: LOCK_EX or LOCK_SH);
// closing the returned descriptor releases it.
func lockDir(dir string, how int) (int, error) {
	fd, err := unix.Open(filepath.Clean(dir), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("bpf: %w", &os.PathError{Op: "open", Path: dir, Err: err})
	}
	if err := flock(fd, how); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("bpf: %w", &os.PathError{Op: "flock", Path: dir, Err: err})
	}
	return fd, nil
}

// flock is flock(2), restarted on EINTR.
func flock(fd, how int) error {
	for {
		err := unix.Flock(fd, how)
		if err != unix.EINTR {
			return err
		}
	}
}

// sameDir reports whether fd is still the directory at path (a CloseLast
// may have removed it after fd was opened).
func sameDir(fd int, path string) (bool, error) {
	var a, b unix.Stat_t
	if err := unix.Fstat(fd, &a); err != nil {
		return false, fmt.Errorf("bpf: %w", &os.PathError{Op: "fstat", Path: path, Err: err})
	}
	if err := unix.Stat(path, &b); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return false, nil
		}
		return false, fmt.Errorf("bpf: %w", &os.PathError{Op: "stat", Path: path, Err: err})
	}
	return a.Dev == b.Dev && a.Ino == b.Ino, nil
}
