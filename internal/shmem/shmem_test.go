//go:build linux

package shmem_test

import (
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/roadrunner-wasm/roadrunner/internal/shmem"
)

func TestCreateCheckMap(t *testing.T) {
	const size = 1 << 20
	f, err := shmem.Create("test", size)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := shmem.Check(int(f.Fd()))
	if err != nil || got != size {
		t.Fatalf("Check = %d, %v; want %d", got, err, size)
	}
	// Sealed: neither shrink nor grow nor a new seal.
	if err := unix.Ftruncate(int(f.Fd()), size/2); !errors.Is(err, unix.EPERM) {
		t.Fatalf("shrink: %v, want EPERM", err)
	}
	if err := unix.Ftruncate(int(f.Fd()), size*2); !errors.Is(err, unix.EPERM) {
		t.Fatalf("grow: %v, want EPERM", err)
	}
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, unix.F_SEAL_WRITE); !errors.Is(err, unix.EPERM) {
		t.Fatalf("add seal: %v, want EPERM", err)
	}
	a, err := shmem.Map(int(f.Fd()), got)
	if err != nil {
		t.Fatal(err)
	}
	defer shmem.Unmap(a)
	b, err := shmem.Map(int(f.Fd()), got)
	if err != nil {
		t.Fatal(err)
	}
	defer shmem.Unmap(b)
	a[size-1] = 42
	if b[size-1] != 42 {
		t.Fatal("two mappings of one file do not share their bytes")
	}
}

func TestCheckRefuses(t *testing.T) {
	fd, err := unix.MemfdCreate("unsealed", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	unix.Ftruncate(fd, 4096)
	if _, err := shmem.Check(fd); !errors.Is(err, shmem.ErrUnsealed) {
		t.Fatalf("unsealed memfd: %v, want ErrUnsealed", err)
	}
	// Sealed against growing only: still unsealed for our purpose.
	unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_GROW)
	if _, err := shmem.Check(fd); !errors.Is(err, shmem.ErrUnsealed) {
		t.Fatalf("memfd sealed against growing only: %v, want ErrUnsealed", err)
	}
	nosealing, err := unix.MemfdCreate("nosealing", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(nosealing)
	if _, err := shmem.Check(nosealing); !errors.Is(err, shmem.ErrUnsealed) {
		t.Fatalf("memfd without sealing: %v, want ErrUnsealed", err)
	}
	reg, err := os.CreateTemp(t.TempDir(), "regular")
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	if _, err := shmem.Check(int(reg.Fd())); err == nil {
		t.Fatal("a regular file passed the check")
	}
}

func TestProbe(t *testing.T) {
	if err := shmem.Probe(); err != nil {
		t.Fatal(err)
	}
}

func TestOffset(t *testing.T) {
	mem := make([]byte, 100)
	for _, c := range []struct {
		view []byte
		off  uint64
		ok   bool
	}{
		{mem[10:20], 10, true},
		{mem[99:], 99, true},
		{mem, 0, true},
		{mem[50:50], 0, false},
		{make([]byte, 5), 0, false},
		{nil, 0, false},
	} {
		if off, ok := shmem.Offset(mem, c.view); off != c.off || ok != c.ok {
			t.Errorf("view of %d bytes: %d, %v; want %d, %v", len(c.view), off, ok, c.off, c.ok)
		}
	}
	// A view that begins in mem and runs past its end.
	big := make([]byte, 200)
	if _, ok := shmem.Offset(big[:100], big[90:110]); ok {
		t.Error("a view running past the mapping has an offset")
	}
}
