//go:build linux

package ring

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Resources lists the process's open file descriptors (with what they
// are) and its io_uring mappings: TestMain and the leak tests compare
// them.
func Resources() (fds, maps []string, err error) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, nil, err
	}
	for _, e := range ents {
		target, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil {
			continue // the directory's own fd, closed by now
		}
		fds = append(fds, e.Name()+" -> "+target)
	}
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return nil, nil, err
	}
	for line := range strings.Lines(string(b)) {
		if strings.Contains(line, "io_uring") {
			maps = append(maps, strings.TrimSpace(line))
		}
	}
	return fds, maps, nil
}

// LeakCheck fails tb unless the fds and io_uring mappings open when tb
// ends are those open when LeakCheck was called.
func LeakCheck(tb testing.TB) {
	tb.Helper()
	fds0, maps0, err := Resources()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		fds, maps, err := Resources()
		if err != nil {
			tb.Fatal(err)
		}
		if d := Diff(fds0, fds) + Diff(maps0, maps); d != "" {
			tb.Fatalf("leaked:\n%s", d)
		}
	})
}

// Diff lists the lines of after not in before.
func Diff(before, after []string) string {
	had := make(map[string]bool, len(before))
	for _, s := range before {
		had[s] = true
	}
	var b strings.Builder
	for _, s := range after {
		if !had[s] {
			fmt.Fprintf(&b, "\t%s\n", s)
		}
	}
	return b.String()
}

func TestLayout(t *testing.T) {
	var e sqe
	for _, f := range []struct {
		name      string
		got, want uintptr
	}{
		{"opcode", unsafe.Offsetof(e.opcode), 0},
		{"flags", unsafe.Offsetof(e.flags), 1},
		{"ioprio", unsafe.Offsetof(e.ioprio), 2},
		{"fd", unsafe.Offsetof(e.fd), 4},
		{"off", unsafe.Offsetof(e.off), 8},
		{"addr", unsafe.Offsetof(e.addr), 16},
		{"len", unsafe.Offsetof(e.len), 24},
		{"op_flags", unsafe.Offsetof(e.opFlags), 28},
		{"user_data", unsafe.Offsetof(e.userData), 32},
		{"buf_index", unsafe.Offsetof(e.bufIndex), 40},
		{"personality", unsafe.Offsetof(e.personality), 42},
		{"splice_fd_in", unsafe.Offsetof(e.spliceFdIn), 44},
		{"addr3", unsafe.Offsetof(e.addr3), 48},
		{"sq_off", unsafe.Offsetof(params{}.sqOff), 40},
		{"cq_off", unsafe.Offsetof(params{}.cqOff), 80},
		{"sq_off.user_addr", unsafe.Offsetof(sqringOffsets{}.userAddr), 32},
		{"getevents_arg.ts", unsafe.Offsetof(getEventsArg{}.ts), 16},
		{"probe.ops", unsafe.Offsetof(probe{}.ops), 16},
		{"probe_op.flags", unsafe.Offsetof(probeOp{}.flags), 2},
	} {
		if f.got != f.want {
			t.Errorf("offset of %s: %d, want %d", f.name, f.got, f.want)
		}
	}
}

// TestNewFaults fails New at each step after setup and checks that it
// leaks neither the ring's fd nor a mapping.
func TestNewFaults(t *testing.T) {
	steps := []string{"mmap sq ring", "mmap sqes"}
	if r, err := New(nil); err != nil {
		t.Fatal(err)
	} else {
		if r.Features()&FeatSingleMmap == 0 {
			steps = append(steps, "mmap cq ring")
		}
		r.Close()
	}
	for _, step := range steps {
		t.Run(step, func(t *testing.T) {
			LeakCheck(t)
			injected := errors.New("injected")
			newFault = func(s string) error {
				if s == step {
					return injected
				}
				return nil
			}
			t.Cleanup(func() { newFault = nil })
			r, err := New(nil)
			if !errors.Is(err, injected) || r != nil {
				t.Fatalf("New with %s failing: %v, %v", step, r, err)
			}
		})
	}
}

// TestSQPoll runs requests through a ring whose kernel thread submits.
func TestSQPoll(t *testing.T) {
	LeakCheck(t)
	r, err := New(&Options{Entries: 8, Flags: setupSQPoll})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cqes := make([]CQE, 8)
	for round := range 20 {
		// The kernel thread frees SQ entries when it is done with a
		// batch, maybe after posting its completions: a full queue is
		// normal, and Submit waits for room.
		for i := range 8 {
			err := r.Nop(Op{UserData: uint64(i)})
			if errors.Is(err, ErrQueueFull) {
				if _, err = r.Submit(); err == nil {
					err = r.Nop(Op{UserData: uint64(i)})
				}
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if _, err := r.Submit(); err != nil {
			t.Fatalf("submit: %v", err)
		}
		if n, err := r.Wait(cqes, 8, 5*time.Second); n != 8 || err != nil {
			t.Fatalf("round %d: wait: %d, %v", round, n, err)
		}
		if round == 10 {
			// Let the kernel thread go idle (after 1 s) and ask for a
			// wakeup, which Submit must give.
			deadline := time.Now().Add(5 * time.Second)
			for atomic.LoadUint32(r.sqFlags)&sqNeedWakeup == 0 {
				if time.Now().After(deadline) {
					t.Fatal("the SQ thread never asked for a wakeup")
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	// Through Wait alone.
	if err := r.Nop(Op{UserData: 42}); err != nil {
		t.Fatal(err)
	}
	if n, err := r.Wait(cqes, 1, 5*time.Second); n != 1 || err != nil || cqes[0].UserData != 42 {
		t.Fatalf("wait: %d %+v, %v", n, cqes[:n], err)
	}
}

func TestWaitMin(t *testing.T) {
	r, err := New(&Options{Entries: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cqes := make([]CQE, 2)
	for _, min := range []int{-1, 3} {
		if _, err := r.Wait(cqes, min, 0); !errors.Is(err, errWaitMin) {
			t.Errorf("wait(min %d) of 2: %v", min, err)
		}
	}
	if err := r.Send(Op{}, 0, unsafe.Slice((*byte)(nil), 0), 0); err != nil {
		t.Errorf("send of an empty buffer: %v", err)
	}
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	if n, err := r.Wait(cqes, 1, time.Second); n != 1 || err != nil || !errors.Is(cqes[0].Err(), unix.ENOTSOCK) {
		t.Errorf("send on stdin: %d %+v, %v", n, cqes[:n], err)
	}
}
