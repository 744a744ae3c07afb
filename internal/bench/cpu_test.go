package bench

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestProcessCPU reads the CPU clock of a child that has spun a loop and
// of one that sleeps: the first must have used about its loop's CPU time,
// the second almost nothing. The spinner says when its loop is over, so the
// reading waits for that state, not for a guessed time.
func TestProcessCPU(t *testing.T) {
	spin := exec.Command("sh", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; echo spun; exec sleep 600")
	out, err := spin.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	sleep := exec.Command("sleep", "600")
	for _, c := range []*exec.Cmd{spin, sleep} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	}
	waitLine(t, out, "spun", 2*time.Minute)
	busy, err := ProcessCPU(spin.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	idle, err := ProcessCPU(sleep.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	// 200000 iterations of a shell loop cost a few hundred ms of CPU
	// however loaded the machine: CPU time, not wall time.
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

// waitLine waits until r yields the line want, failing the test after d.
func waitLine(t *testing.T, r io.Reader, want string, d time.Duration) {
	t.Helper()
	got := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if sc.Text() == want {
				got <- nil
				return
			}
		}
		got <- fmt.Errorf("output ended (%v) before %q", sc.Err(), want)
	}()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(d):
		t.Fatalf("no %q within %v", want, d)
	}
}

// touchHelperEnv makes this test binary the child of TestPeakRSS.
const touchHelperEnv = "RR_BENCH_TEST_TOUCH"

// touchHelper says "ready", waits for a line on standard input, touches
// 64 MiB, says "touched", and waits for its input to close.
func touchHelper() {
	in := bufio.NewReader(os.Stdin)
	fmt.Println("ready")
	if _, err := in.ReadString('\n'); err != nil {
		return
	}
	b := make([]byte, 64<<20)
	for i := range b {
		b[i] = byte(i)
	}
	fmt.Println("touched")
	io.Copy(io.Discard, in)
	_ = b[len(b)-1]
}

// TestPeakRSS reads the peak RSS of a child before and after it touches
// 64 MiB: a process of its own, so that what the tests before this one
// left in this process's peak cannot hide the growth.
func TestPeakRSS(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	child := exec.Command(exe, "-test.run=^$")
	child.Env = append(os.Environ(), touchHelperEnv+"=1")
	in, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); child.Process.Kill(); child.Wait() })
	lines := bufio.NewReader(out)
	next := func(want string) {
		t.Helper()
		done := make(chan string, 1)
		go func() { line, _ := lines.ReadString('\n'); done <- strings.TrimSpace(line) }()
		select {
		case got := <-done:
			if got != want {
				t.Fatalf("child said %q, want %q", got, want)
			}
		case <-time.After(2 * time.Minute):
			t.Fatalf("child did not say %q within 2 minutes", want)
		}
	}
	next("ready")
	before, err := PeakRSS(child.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(in, "touch\n"); err != nil {
		t.Fatal(err)
	}
	next("touched")
	after, err := PeakRSS(child.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if after < before+60<<20 {
		t.Errorf("child's peak RSS %d before touching 64 MiB, %d after", before, after)
	}
	if _, err := PeakRSS(-1); err == nil {
		t.Error("the peak RSS of no process answered")
	}
}
