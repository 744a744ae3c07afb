//go:build linux

package runtimetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/roadrunner-wasm/roadrunner/internal/shmem"
	"github.com/roadrunner-wasm/roadrunner/runtime"
)

// RunShared checks [runtime.FunctionSpec].SharedMemory against the engines
// made by newEngine. An engine that cannot share must ignore it: its
// function delivers as usual and is no [runtime.Sharer]. One that can must
// place every instance's memory in one sealed file, in which what a second
// mapping writes at [runtime.SharedMemory].Offset of a delivery's view is
// what the guest receives, across memory growth, concurrent instances and
// replaced ones.
func RunShared(t *testing.T, newEngine NewEngine) {
	s := &suite{newEngine: newEngine, module: GuestModule(t)}
	e := s.engine(t)
	h := &host{}
	fn, err := e.Load(context.Background(), runtime.FunctionSpec{Name: "shared", Module: s.module, PoolSize: 2, SharedMemory: true}, h)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	t.Cleanup(func() { fn.Close(context.Background()) })
	sharer, ok := fn.(runtime.Sharer)
	if !ok {
		// An engine that cannot share: SharedMemory is ignored, and the
		// function works as any other.
		echo(t, fn, pattern(1<<20, 1))
		t.Logf("%s does not share memory: it ignores SharedMemory and delivers as usual", e.Name())
		return
	}
	sm, err := sharer.SharedMemory()
	if err != nil {
		t.Fatalf("SharedMemory: %v", err)
	}
	fd := int(sm.File().Fd())
	size, err := shmem.Check(fd)
	if err != nil {
		t.Fatalf("the shared file fails the check a sender makes: %v", err)
	}
	if err := unix.Ftruncate(fd, size/2); !errors.Is(err, unix.EPERM) {
		t.Fatalf("shrinking the shared file: %v, want EPERM (sealed)", err)
	}
	other, err := shmem.Map(fd, size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shmem.Unmap(other) })

	// through writes the payload through the second mapping, as a sender
	// of the shm path does, and returns the offset it landed at.
	through := func(tb testing.TB, payload []byte) uint64 {
		tb.Helper()
		var at uint64
		ctx, c := withCall(context.Background())
		err := fn.Deliver(ctx, uint32(len(payload)), func(dst []byte) error {
			off, ok := sm.Offset(dst)
			if !ok {
				return fmt.Errorf("a view of %d bytes does not lie in the shared file", len(dst))
			}
			if off+uint64(len(dst)) > uint64(len(other)) {
				return fmt.Errorf("offset %d + %d past the file's %d bytes", off, len(dst), len(other))
			}
			at = off
			copy(other[off:], payload)
			return nil
		})
		if err != nil {
			tb.Fatalf("Deliver %d bytes: %v", len(payload), err)
		}
		if len(c.replies) != 1 || !bytes.Equal(c.replies[0], payload) {
			tb.Fatalf("%d bytes written through the file: the guest echoed something else", len(payload))
		}
		return at
	}

	t.Run("Sizes", func(t *testing.T) {
		for _, n := range []int{1, 4095, 4096, 1<<20 + 3, 64 << 20} {
			through(t, pattern(n, byte(n)))
		}
		if _, ok := sm.Offset(nil); ok {
			t.Fatal("an empty view has an offset")
		}
		if _, ok := sm.Offset(make([]byte, 16)); ok {
			t.Fatal("a view of the Go heap has an offset in the shared file")
		}
	})
	t.Run("Grows", func(t *testing.T) {
		for i := range 3 {
			if _, err := deliver(context.Background(), fn, control('G', u32(32)...)); err != nil {
				t.Fatalf("grow: %v", err)
			}
			through(t, pattern(2<<20+i, byte(i)))
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		// Two instances at once: each in its own part of the file.
		var wg sync.WaitGroup
		offs := make([]uint64, 2)
		ready, release := make(chan struct{}, 2), make(chan struct{})
		for i := range offs {
			wg.Go(func() {
				payload := pattern(8<<20, byte(10+i))
				ctx, c := withCall(context.Background())
				err := fn.Deliver(ctx, uint32(len(payload)), func(dst []byte) error {
					off, ok := sm.Offset(dst)
					if !ok {
						return errors.New("view not in the shared file")
					}
					offs[i] = off
					copy(other[off:], payload)
					ready <- struct{}{}
					<-release // hold this instance until the other has its view
					return nil
				})
				if err != nil {
					t.Errorf("Deliver: %v", err)
				} else if len(c.replies) != 1 || !bytes.Equal(c.replies[0], payload) {
					t.Errorf("instance %d echoed something else", i)
				}
			})
		}
		<-ready
		<-ready
		close(release)
		wg.Wait()
		lo, hi := min(offs[0], offs[1]), max(offs[0], offs[1])
		if hi-lo < 8<<20 {
			t.Fatalf("two instances' views overlap in the file: offsets %d and %d", offs[0], offs[1])
		}
	})
	t.Run("HostileAlloc", func(t *testing.T) {
		// A guest whose rr_alloc points outside its memory, wraps, or
		// returns 0: refused before fill, so nothing is ever offered to
		// a sender. One at the last byte of memory: 1 byte lands there,
		// inside the file; 2 are refused.
		load := func(t *testing.T) runtime.Function {
			f, err := e.Load(context.Background(), runtime.FunctionSpec{Name: "hostile", Module: s.module, PoolSize: 1, SharedMemory: true}, &host{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close(context.Background()) })
			return f
		}
		for _, mode := range []byte{'z', 'o', 'w'} {
			f := load(t)
			if _, err := deliver(context.Background(), f, control('A', mode)); err != nil {
				t.Fatal(err)
			}
			filled := false
			err := f.Deliver(context.Background(), 32, func([]byte) error { filled = true; return nil })
			expectDeliverCode(t, err, runtime.CodeAllocFailed)
			if filled {
				t.Fatalf("mode %c: fill ran", mode)
			}
		}
		f := load(t)
		fsm, err := f.(runtime.Sharer).SharedMemory()
		if err != nil {
			t.Fatal(err)
		}
		size := memorySize(t, f)
		if _, err := deliver(context.Background(), f, control('A', append([]byte{'p'}, u32(size-1)...)...)); err != nil {
			t.Fatal(err)
		}
		var at uint64
		err = f.Deliver(context.Background(), 1, func(dst []byte) error {
			off, ok := fsm.Offset(dst)
			if !ok {
				return errors.New("the last byte of memory is not in the file")
			}
			at = off
			return nil
		})
		// The instance is the file's first: its memory's last byte is
		// the file's byte size-1. (The conformance guest's rr_handle then
		// refuses a pointer that is not its buffer: err is its code.)
		if at != uint64(size-1) {
			t.Fatalf("the last byte of a %d-byte memory at offset %d of the file (err %v)", size, at, err)
		}
		filled := false
		err = f.Deliver(context.Background(), 2, func([]byte) error { filled = true; return nil })
		expectDeliverCode(t, err, runtime.CodeAllocFailed)
		if filled {
			t.Fatal("2 bytes at the last byte of memory: fill ran")
		}
	})
	t.Run("Replaced", func(t *testing.T) {
		// A trapped instance is replaced: its memory's part of the file
		// is zeroed before another instance takes it.
		if _, err := deliver(context.Background(), fn, control('T')); err == nil {
			t.Fatal("a trap delivered without error")
		}
		through(t, pattern(3<<20, 77))
	})
}

// memorySize finds the size of fn's (one) instance's memory, as the
// guest's own bounds checks see it: the highest address a 1-byte reply
// may come from, plus one.
func memorySize(tb testing.TB, fn runtime.Function) uint32 {
	tb.Helper()
	lo, hi := uint32(0), uint32(1<<32-1) // lo is in memory, hi is not
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		c, err := deliver(context.Background(), fn, control('B', append(append(u32(mid), u32(1)...), 2)...))
		if err != nil {
			tb.Fatal(err)
		}
		// A good range replies its byte, then the code 0; a bad one only
		// the code.
		if len(c.replies) == 2 {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}
