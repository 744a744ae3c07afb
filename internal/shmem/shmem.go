package shmem

import "errors"

// ErrNotSupported is returned where memfds do not exist.
var ErrNotSupported = errors.New("shared memory files need Linux")

// ErrUnsealed says a file is not sealed against shrinking.
var ErrUnsealed = errors.New("file is not sealed against shrinking (F_SEAL_SHRINK)")

// ErrNotMemfd says a file is not a memfd of the shmem filesystem.
var ErrNotMemfd = errors.New("file is not a memfd of the shmem filesystem")

// Seals is what Create seals a file with: it can neither shrink nor grow,
// and no seal can be added or removed.
const Seals = sealShrink | sealGrow | sealSeal
