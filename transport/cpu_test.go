package transport_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// CPU clocks for benchmarks. getrusage counts in scheduler ticks (4 ms at
// HZ=250 on the project's VMs), coarser than one transfer; the CPU-time
// clocks count the scheduler's nanoseconds. Without
// CONFIG_IRQ_TIME_ACCOUNTING (the project's kernels) a softirq that runs on
// a thread's way out of a system call is charged to that thread: on
// loopback and veth that is most of the receiving TCP stack, run by the
// sender. Softirqs the kernel defers to ksoftirqd are charged to neither
// clock; ksoftirqdCPU counts them.

func cpuClock(id int32) time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(id, &ts); err != nil {
		panic("clock_gettime: " + err.Error())
	}
	return time.Duration(ts.Nano())
}

// threadCPU is the CPU time of the calling thread, user and system. The
// goroutine must be locked to its thread (runtime.LockOSThread) for a
// difference of two readings to mean anything.
func threadCPU() time.Duration { return cpuClock(unix.CLOCK_THREAD_CPUTIME_ID) }

// processCPU is the CPU time of every thread of the process, user and
// system.
func processCPU() time.Duration { return cpuClock(unix.CLOCK_PROCESS_CPUTIME_ID) }

// ksoftirqds lists the schedstat files of the ksoftirqd threads, one per
// CPU.
var ksoftirqds = sync.OnceValue(func() []string {
	var files []string
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		comm, err := os.ReadFile(d + "/comm")
		if err == nil && strings.HasPrefix(string(comm), "ksoftirqd/") {
			files = append(files, d+"/schedstat")
		}
	}
	return files
})

// ksoftirqdCPU is the CPU time the ksoftirqd threads have run (the first
// field of /proc/PID/schedstat, in nanoseconds): softirq work that no
// process clock counts. It includes every other process's deferred
// softirqs, which on an otherwise idle machine are few.
func ksoftirqdCPU() time.Duration {
	var sum time.Duration
	for _, f := range ksoftirqds() {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		field, _, _ := strings.Cut(string(b), " ")
		ns, err := strconv.ParseInt(field, 10, 64)
		if err == nil {
			sum += time.Duration(ns)
		}
	}
	return sum
}
