package wazero

import (
	"fmt"
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/roadrunner-wasm/roadrunner/internal/shmem"
	"github.com/roadrunner-wasm/roadrunner/runtime"
)

// commitStep is the granularity of commits and the alignment of
// reservations: the size of a transparent huge page, so that a memory
// madvised MADV_HUGEPAGE takes whole huge pages (one fault per 2 MiB
// instead of 512: on virtual machines whose page faults are costly, the
// difference between a cold payload costing 2x a warm one and 20x).
const commitStep = 2 << 20

// mappedMemory is a linear memory in a reservation of its maximum: an
// anonymous mapping of its own, or a slot of a function's shared file.
// Pages become readable and writable as the memory grows (committed), in
// steps of commitStep.
type mappedMemory struct {
	a         *allocator
	mem       []byte // the reservation, len = its size
	committed uint64
	shared    *sharedFile // the file the memory is a slot of; nil if anonymous
	slot      int
	faulting  sync.WaitGroup // the background fault-in of the last growth
}

// prefaultMin is the smallest growth faulted in ahead of the guest, on
// another thread: a page's first write must have the kernel zero it (2 MiB
// at a time with huge pages), and a payload that grows memory by tens of
// MiB would otherwise pay for all of it on the copy's thread.
const prefaultMin = 8 << 20

// reserve reserves max bytes (rounded up to commitStep, at least one step)
// of address space, aligned to commitStep, with no access and no commit
// charge; nil if the system refuses.
func reserve(a *allocator, limit uint64) *mappedMemory {
	size := max(roundUp(limit, commitStep), commitStep)
	if size > 1<<40 {
		return nil
	}
	raw, err := unix.MmapPtr(-1, 0, nil, uintptr(size+commitStep), unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil
	}
	skip := (commitStep - uintptr(raw)%commitStep) % commitStep
	if skip > 0 {
		unix.MunmapPtr(raw, skip)
	}
	if tail := commitStep - skip; tail > 0 {
		unix.MunmapPtr(unsafe.Add(raw, skip+uintptr(size)), tail)
	}
	mem := unsafe.Slice((*byte)(unsafe.Add(raw, skip)), size)
	// THP where the system allows it (madvise mode); refused is fine.
	unix.Madvise(mem, unix.MADV_HUGEPAGE)
	return &mappedMemory{a: a, mem: mem}
}

// Reallocate implements experimental.LinearMemory: the memory's first size
// bytes, committing what they need; nil beyond the reservation or if the
// system refuses.
func (m *mappedMemory) Reallocate(size uint64) []byte {
	if size > uint64(len(m.mem)) {
		return nil
	}
	if size > m.committed {
		end := min(roundUp(size, commitStep), uint64(len(m.mem)))
		if err := unix.Mprotect(m.mem[m.committed:end], unix.PROT_READ|unix.PROT_WRITE); err != nil {
			return nil
		}
		if grown := m.mem[m.committed:end]; len(grown) >= prefaultMin {
			// From the end backwards, one step at a time: the guest
			// writes from the start forwards, and they meet.
			m.faulting.Go(func() {
				for hi := len(grown); hi > 0; hi -= commitStep {
					if unix.Madvise(grown[max(hi-commitStep, 0):hi], unix.MADV_POPULATE_WRITE) != nil {
						return // before Linux 5.14: the guest's writes fault them in
					}
				}
			})
		}
		m.committed = end
	}
	return m.mem[:size:size]
}

// Free implements experimental.LinearMemory. It unmaps the reservation or
// gives its slot back (zeroed); while the function closes, it only
// empties it (see allocator.closing).
func (m *mappedMemory) Free() {
	if m.mem == nil {
		return
	}
	m.faulting.Wait()
	if m.a.closing.Load() {
		// A call may still run on this memory: replace its pages with
		// fresh zero pages, readable and writable, and leave the address
		// space reserved.
		if m.committed > 0 {
			unix.MmapPtr(-1, 0, unsafe.Pointer(unsafe.SliceData(m.mem)), uintptr(m.committed),
				unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE|unix.MAP_FIXED)
		}
		if m.shared != nil {
			m.shared.abandon(m.slot)
		}
		m.mem = nil
		return
	}
	if m.shared != nil {
		m.shared.release(m)
	} else {
		unix.MunmapPtr(unsafe.Pointer(unsafe.SliceData(m.mem)), uintptr(len(m.mem)))
	}
	m.mem = nil
}

// sharedFile is a function's shared memory: one sealed memfd of slots,
// one slot per instance (the pool's size and one more, for an instance
// replaced while its successor starts), each the memory's maximum rounded
// up to commitStep. This process maps the whole file once, with no access,
// and each memory's slot becomes readable and writable as it grows.
// Another node of the host maps the file too (the shm path) and may write
// anywhere in it.
type sharedFile struct {
	f    *os.File
	mem  []byte // the whole file, mapped here
	slot uint64 // bytes per slot

	mu        sync.Mutex
	used      []bool
	abandoned bool // a slot was emptied while in use: the file is not unmapped
}

var _ runtime.SharedMemory = (*sharedFile)(nil)

// newSharedFile makes the shared memory of a function of slots instances
// whose memories are at most max bytes.
func newSharedFile(name string, slots int, limit uint64) (*sharedFile, error) {
	slot := max(roundUp(limit, commitStep), commitStep)
	total := slot * uint64(slots)
	if total > 1<<44 || total/uint64(slots) != slot {
		return nil, fmt.Errorf("shared memory of %d instances of %d bytes is too large", slots, slot)
	}
	f, err := shmem.Create("rr:"+name, int64(total))
	if err != nil {
		return nil, err
	}
	p, err := unix.MmapPtr(int(f.Fd()), 0, nil, uintptr(total), unix.PROT_NONE, unix.MAP_SHARED|unix.MAP_NORESERVE)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("mmap shared memory of %d bytes: %w", total, err)
	}
	return &sharedFile{
		f:    f,
		mem:  unsafe.Slice((*byte)(p), total),
		slot: slot,
		used: make([]bool, slots),
	}, nil
}

// allocate gives a free slot to a memory of at most max bytes; nil if none
// is free or max does not fit a slot.
func (s *sharedFile) allocate(a *allocator, limit uint64) *mappedMemory {
	if limit > s.slot {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, u := range s.used {
		if !u {
			s.used[i] = true
			off := uint64(i) * s.slot
			return &mappedMemory{a: a, mem: s.mem[off : off+s.slot : off+s.slot], shared: s, slot: i}
		}
	}
	return nil
}

// release zeroes a freed memory's slot (its pages are punched out of the
// file: the next instance, and any node that maps the file, see zeros),
// takes back access to it and marks it free.
func (s *sharedFile) release(m *mappedMemory) {
	if m.committed > 0 {
		off := int64(m.slot) * int64(s.slot)
		if err := unix.Fallocate(int(s.f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, int64(m.committed)); err != nil {
			// Not zeroed: the slot must not serve another instance.
			s.abandon(m.slot)
			return
		}
		unix.Mprotect(m.mem[:m.committed], unix.PROT_NONE)
	}
	s.mu.Lock()
	s.used[m.slot] = false
	s.mu.Unlock()
}

// abandon keeps a slot used for good: it was emptied while a call may
// still run on it, or could not be zeroed.
func (s *sharedFile) abandon(slot int) {
	s.mu.Lock()
	s.abandoned = true
	s.used[slot] = true
	s.mu.Unlock()
}

// close releases the file and, unless a slot was abandoned, its mapping.
func (s *sharedFile) close() error {
	s.mu.Lock()
	abandoned := s.abandoned
	s.mu.Unlock()
	if !abandoned {
		unix.MunmapPtr(unsafe.Pointer(unsafe.SliceData(s.mem)), uintptr(len(s.mem)))
	}
	return s.f.Close()
}

// File implements runtime.SharedMemory.
func (s *sharedFile) File() *os.File { return s.f }

// Offset implements runtime.SharedMemory.
func (s *sharedFile) Offset(view []byte) (uint64, bool) { return shmem.Offset(s.mem, view) }
