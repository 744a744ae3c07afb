package wazero

import (
	"sync/atomic"

	"github.com/tetratelabs/wazero/experimental"
)

// allocator is a function's experimental.MemoryAllocator: every instance's
// linear memory is a reservation of the memory's maximum, made once, whose
// pages are committed as the memory grows: growing never copies and never
// moves the memory (memory_linux.go). With shared set, the reservations are
// slots of one sealed memfd that a node of this host may map (the shm
// path). Where the system refuses the reservation, a memory lives on the Go
// heap and grows as wazero's own does, by copying.
type allocator struct {
	shared *sharedFile // nil: anonymous reservations
	// closing is set when the function's runtime closes: a memory freed
	// then may still be in use by a call the pool gave up waiting for, so
	// it is emptied, not unmapped.
	closing atomic.Bool
}

var _ experimental.MemoryAllocator = (*allocator)(nil)

// Allocate implements experimental.MemoryAllocator.
func (a *allocator) Allocate(_, limit uint64) experimental.LinearMemory {
	if a.shared != nil {
		if m := a.shared.allocate(a, limit); m != nil {
			return m
		}
	}
	if m := reserve(a, limit); m != nil {
		return m
	}
	return &heapMemory{}
}

// heapMemory is a linear memory on the Go heap, where a reservation was
// refused: it grows by copying, as wazero's own memory does.
type heapMemory struct{ buf []byte }

func (h *heapMemory) Reallocate(size uint64) []byte {
	if size <= uint64(cap(h.buf)) {
		h.buf = h.buf[:size]
		return h.buf
	}
	nb := make([]byte, size, max(size, 2*uint64(cap(h.buf))))
	copy(nb, h.buf)
	h.buf = nb
	return nb
}

func (h *heapMemory) Free() { h.buf = nil }

// roundUp rounds n up to a multiple of to, a power of two.
func roundUp(n, to uint64) uint64 { return (n + to - 1) &^ (to - 1) }
