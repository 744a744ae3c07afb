package shmem

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

const (
	sealShrink = unix.F_SEAL_SHRINK
	sealGrow   = unix.F_SEAL_GROW
	sealSeal   = unix.F_SEAL_SEAL
)

// Create makes a memfd named name of size bytes (sparse: no page is
// allocated until touched), sealed with [Seals]. The error wraps the
// system's refusal: a seccomp profile may refuse memfd_create with EPERM
// or ENOSYS.
func Create(name string, size int64) (*os.File, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "memfd:"+name)
	if err := unix.Ftruncate(fd, size); err != nil {
		f.Close()
		return nil, fmt.Errorf("memfd %s: ftruncate to %d bytes: %w", name, size, err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, Seals); err != nil {
		f.Close()
		return nil, fmt.Errorf("memfd %s: seal: %w", name, err)
	}
	return f, nil
}

// Check reports the size of the file fd if it is a memfd of the shmem
// filesystem sealed against shrinking; otherwise an error wrapping
// [ErrUnsealed] or [ErrNotMemfd]. A file that passes cannot become
// shorter than the size returned: a mapping of that many bytes never
// faults with SIGBUS for want of a page of the file.
func Check(fd int) (int64, error) {
	var fs unix.Statfs_t
	if err := unix.Fstatfs(fd, &fs); err != nil {
		return 0, fmt.Errorf("fstatfs: %w", err)
	}
	if fs.Type != unix.TMPFS_MAGIC {
		return 0, fmt.Errorf("%w (filesystem %#x)", ErrNotMemfd, fs.Type)
	}
	seals, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	if err != nil {
		// EINVAL: a tmpfs file that is not a memfd has no seals.
		return 0, fmt.Errorf("%w: F_GET_SEALS: %w", ErrNotMemfd, err)
	}
	if seals&unix.F_SEAL_SHRINK == 0 {
		return 0, fmt.Errorf("%w (seals %#x)", ErrUnsealed, seals)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, fmt.Errorf("fstat: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return 0, fmt.Errorf("%w (mode %#o)", ErrNotMemfd, st.Mode)
	}
	return st.Size, nil
}

// Map maps size bytes of the file fd, shared and writable.
func Map(fd int, size int64) ([]byte, error) {
	if size <= 0 || int64(int(size)) != size {
		return nil, fmt.Errorf("map %d bytes: bad size", size)
	}
	b, err := unix.Mmap(fd, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap %d bytes: %w", size, err)
	}
	return b, nil
}

// Unmap unmaps a mapping made by Map.
func Unmap(b []byte) error { return unix.Munmap(b) }

// Probe makes, seals, checks and maps a one-page memfd: nil if this
// process may use the shm path's files.
func Probe() error {
	f, err := Create("rr-probe", int64(os.Getpagesize()))
	if err != nil {
		return err
	}
	defer f.Close()
	size, err := Check(int(f.Fd()))
	if err != nil {
		return err
	}
	b, err := Map(int(f.Fd()), size)
	if err != nil {
		return err
	}
	b[0] = 1
	return Unmap(b)
}
