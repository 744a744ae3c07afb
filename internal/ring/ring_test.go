//go:build linux

package ring_test

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/roadrunner-wasm/roadrunner/internal/ring"
	"github.com/roadrunner-wasm/roadrunner/internal/ring/ringtest"
)

// TestMain fails the run when it leaves a file descriptor or an io_uring
// mapping open that was not open before.
func TestMain(m *testing.M) {
	// Open what the runtime opens once (the netpoller's epoll fd and its
	// eventfd) before the first count.
	if r, w, err := os.Pipe(); err == nil {
		r.Close()
		w.Close()
	}
	fds0, maps0, err := ring.Resources()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	fds, maps, err := ring.Resources()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if d := ring.Diff(fds0, fds) + ring.Diff(maps0, maps); d != "" {
		fmt.Fprintf(os.Stderr, "leaked file descriptors or io_uring mappings:\n%s", d)
		code = 1
	}
	os.Exit(code)
}

func newNative(t *testing.T, o *ring.Options) *ring.Native {
	t.Helper()
	r, err := ring.New(o)
	if err != nil {
		t.Fatalf("new ring: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("close ring: %v", err)
		}
	})
	return r
}

func TestNative(t *testing.T) {
	ringtest.Run(t, newNative)
}

func TestNewInvalid(t *testing.T) {
	ring.LeakCheck(t)
	r, err := ring.New(&ring.Options{Flags: 1 << 31})
	if !errors.Is(err, unix.EINVAL) || r != nil {
		t.Fatalf("new with an unknown setup flag: %v, %v; want EINVAL", r, err)
	}
}

// TestNewClamp: IORING_SETUP_CLAMP turns too many entries into the most
// the kernel allows (32768 since 5.4) instead of an error.
func TestNewClamp(t *testing.T) {
	ring.LeakCheck(t)
	r := newNative(t, &ring.Options{Entries: 1 << 20})
	if k := r.SQSpace(); k <= 0 || k >= 1<<20 {
		t.Fatalf("SQSpace of a ring asking for 1<<20 entries: %d", k)
	}
}

func TestReadDisabled(t *testing.T) {
	v, err := ring.ReadDisabled()
	if v != 0 || err != nil {
		t.Fatalf("ReadDisabled: %d, %v; want 0 on this machine", v, err)
	}
}
