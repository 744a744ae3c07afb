package bench

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestProcessCPU reads the CPU clock of a child that spins for a while and
// of one that sleeps: the first must have used about its spin time, the
// second almost nothing.
func TestProcessCPU(t *testing.T) {
	spin := exec.Command("sh", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; sleep 5")
	sleep := exec.Command("sleep", "5")
	for _, c := range []*exec.Cmd{spin, sleep} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	}
	time.Sleep(1500 * time.Millisecond)
	busy, err := ProcessCPU(spin.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	idle, err := ProcessCPU(sleep.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if busy <= idle || busy < 50*time.Millisecond {
		t.Errorf("spinning child used %v, sleeping child %v: want the spinner well ahead", busy, idle)
	}
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	if _, err := ProcessCPU(gone.Process.Pid); err == nil {
		t.Error("the CPU clock of a process that exited and was reaped answered")
	}
}

func TestPeakRSS(t *testing.T) {
	before, err := PeakRSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 64<<20)
	for i := range b {
		b[i] = byte(i)
	}
	after, err := PeakRSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after < before+60<<20 {
		t.Errorf("peak RSS %d before touching 64 MiB, %d after", before, after)
	}
	_ = b[len(b)-1]
}
