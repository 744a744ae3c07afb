package shmem

import (
	"errors"
	"unsafe"
)

// ErrNotSupported is returned where memfds do not exist.
var ErrNotSupported = errors.New("shared memory files need Linux")

// ErrUnsealed says a file is not sealed against shrinking.
var ErrUnsealed = errors.New("file is not sealed against shrinking (F_SEAL_SHRINK)")

// ErrNotMemfd says a file is not a memfd of the shmem filesystem.
var ErrNotMemfd = errors.New("file is not a memfd of the shmem filesystem")

// Seals is what Create seals a file with: it can neither shrink nor grow,
// and no seal can be added or removed.
const Seals = sealShrink | sealGrow | sealSeal

// Offset returns where view's first byte lies in mem, a mapping of a file
// from its start, if view lies in it whole; ok is false for an empty view
// or one that does not.
func Offset(mem, view []byte) (off uint64, ok bool) {
	if len(view) == 0 || len(mem) == 0 {
		return 0, false
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(mem)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(view)))
	if p < base {
		return 0, false
	}
	off = uint64(p - base)
	if off >= uint64(len(mem)) || uint64(len(view)) > uint64(len(mem))-off {
		return 0, false
	}
	return off, true
}
