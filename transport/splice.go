package transport

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/roadrunner-wasm/roadrunner/transport/features"
)

// pipe is the splice mechanism's pipe: payload pages go in with vmsplice
// and out into the socket with splice. Each tcp connection that splices
// owns one, made on first use and closed with the connection, so pipes are
// pooled with the connections that use them.
type pipe struct {
	r, w int
	size int // bytes the pipe holds: what one vmsplice may queue
	iov  [1]unix.Iovec
}

// pipeSize is the size the splice mechanism asks its pipes for: a chunk of
// a payload. The system may cap it (fs/pipe-max-size, default 1 MiB).
const pipeSize = 1 << 20

func newPipe() (*pipe, error) {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return nil, fmt.Errorf("pipe2: %w", err)
	}
	p := &pipe{r: fds[0], w: fds[1]}
	want := pipeSize
	if max, err := features.PipeMaxSize(); err == nil && max < want {
		want = max
	}
	size, err := unix.FcntlInt(uintptr(p.w), unix.F_SETPIPE_SZ, want)
	if err != nil {
		// Keep the default size: a smaller chunk, not a failure.
		size, err = unix.FcntlInt(uintptr(p.w), unix.F_GETPIPE_SZ, 0)
		if err != nil {
			p.close()
			return nil, fmt.Errorf("F_GETPIPE_SZ: %w", err)
		}
	}
	p.size = size
	return p, nil
}

func (p *pipe) close() {
	unix.Close(p.r)
	unix.Close(p.w)
}

// vmsplice queues the pages under b in the pipe (references, not copies)
// and returns how many bytes it queued: all of b if it fits in the pipe,
// which is empty on each call.
func (p *pipe) vmsplice(b []byte) (int, error) {
	p.iov[0].Base = unsafe.SliceData(b)
	p.iov[0].SetLen(len(b))
	for {
		r1, _, errno := unix.Syscall6(unix.SYS_VMSPLICE, uintptr(p.w), uintptr(unsafe.Pointer(&p.iov[0])), 1, unix.SPLICE_F_NONBLOCK, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		p.iov[0].Base = nil
		if errno != 0 {
			return 0, errno
		}
		return int(r1), nil
	}
}

// The first refusal of vmsplice or splice, kept for the process: a seccomp
// filter or a kernel that refuses once refuses every time, and trying again
// per transfer would cost a failed system call each.
var (
	spliceRefusal   atomic.Pointer[error]
	logFallbackOnce sync.Once
)

func refuseSplice(err error) {
	spliceRefusal.CompareAndSwap(nil, &err)
}

// spliceRefused returns why splice is refused in this process, or nil.
func spliceRefused() error {
	if p := spliceRefusal.Load(); p != nil {
		return *p
	}
	return nil
}

// The auto mechanism's rule. A peer reached through a virtual link
// (loopback, veth, a bridge: any interface without a device behind it in
// /sys/class/net) gets write: there the receiving side runs on the same
// machine and pays more for spliced pages than the sender saves, measured
// 1.01-1.32x write's total CPU (docs/BENCHMARKS.md). Through a physical
// NIC, payloads under autoMinBytes go with write (setting up vmsplice for
// a few pages costs more than copying them), and large transfers to the
// peer alternate the two mechanisms, timed in sender thread CPU, until
// each has autoSamples samples and autoSampleBytes bytes; then splice is
// kept only if its median CPU per byte is under autoMargin times write's.
const (
	autoMinBytes    = 256 << 10
	autoSamples     = 4
	autoSampleBytes = 16 << 20
	autoMargin      = 0.9
)

// autoChooser settles a peer's tcp mechanism from measurement.
type autoChooser struct {
	mu      sync.Mutex
	next    int          // transfers sampled so far: even ones write, odd ones splice
	samples [2][]float64 // [write, splice] thread CPU ns per byte
	bytes   [2]int       // [write, splice] bytes sampled
	done    atomic.Pointer[string]
	link    sync.Once
}

// classify settles the mechanism at write if the connection nc leaves
// through a virtual link, once per peer (at its first connection).
func (a *autoChooser) classify(p *Peer, nc net.Conn) {
	a.link.Do(func() {
		name, physical := egress(nc)
		if physical {
			p.log.Info("send mechanism: measuring write and splice", "path", p.network, "link", name)
			return
		}
		if a.settle(MechanismWrite) {
			why := "virtual link " + name + ": splice costs more CPU than write where the receiver shares the machine"
			p.log.Info("send mechanism chosen", "path", p.network, "mechanism", MechanismWrite, "link", name, "why", why)
			if p.opts.OnMechanism != nil {
				p.opts.OnMechanism(MechanismWrite, why)
			}
		}
	})
}

// egress names the interface nc's local address belongs to and says
// whether a physical device is behind it. Loopback, and any interface not
// found or without /sys/class/net/NAME/device (veth, bridges, tunnels, or
// an interface of another network namespace than the one /sys shows), is
// virtual.
func egress(nc net.Conn) (name string, physical bool) {
	la, ok := nc.LocalAddr().(*net.TCPAddr)
	if !ok {
		return "unknown", false
	}
	if la.IP.IsLoopback() {
		return "lo", false
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return "unknown", false
	}
	for _, ifc := range ifs {
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.Equal(la.IP) {
				if ifc.Flags&net.FlagLoopback != 0 {
					return ifc.Name, false
				}
				_, err := os.Stat(filepath.Join("/sys/class/net", ifc.Name, "device"))
				return ifc.Name, err == nil
			}
		}
	}
	return "unknown", false
}

func newAutoChooser() *autoChooser { return &autoChooser{} }

func (a *autoChooser) chosen() string {
	if m := a.done.Load(); m != nil {
		return *m
	}
	return ""
}

// autoSample is one timed transfer.
type autoSample struct {
	mech  int // 0 write, 1 splice
	start time.Duration
}

func (s *autoSample) begin() { s.start = threadCPU() }

// pick returns the mechanism for a payload of n bytes and, while sampling,
// the sample to time it with.
func (a *autoChooser) pick(n int) (string, *autoSample) {
	if m := a.chosen(); m != "" {
		if m == MechanismSplice && n < autoMinBytes {
			return MechanismWrite, nil
		}
		return m, nil
	}
	if n < autoMinBytes {
		return MechanismWrite, nil
	}
	if spliceRefused() != nil {
		a.settle(MechanismWrite)
		return MechanismWrite, nil
	}
	a.mu.Lock()
	i := a.next % 2
	a.next++
	a.mu.Unlock()
	s := &autoSample{mech: i}
	return [2]string{MechanismWrite, MechanismSplice}[i], s
}

func (a *autoChooser) settle(m string) bool {
	return a.done.CompareAndSwap(nil, &m)
}

// record adds a finished sample and settles the mechanism once both have
// enough.
func (a *autoChooser) record(p *Peer, s *autoSample, n int) {
	cpu := threadCPU() - s.start
	a.mu.Lock()
	a.samples[s.mech] = append(a.samples[s.mech], float64(cpu)/float64(n))
	a.bytes[s.mech] += n
	w, sp := a.samples[0], a.samples[1]
	ready := len(w) >= autoSamples && len(sp) >= autoSamples &&
		a.bytes[0] >= autoSampleBytes && a.bytes[1] >= autoSampleBytes
	var mw, ms float64
	if ready {
		mw, ms = median(w), median(sp)
	}
	a.mu.Unlock()
	if !ready {
		return
	}
	m := MechanismWrite
	if spliceRefused() == nil && ms < autoMargin*mw {
		m = MechanismSplice
	}
	if a.settle(m) {
		why := fmt.Sprintf("measured sender CPU per KiB: write %.0f ns, splice %.0f ns (medians of %d and %d transfers)", mw*1024, ms*1024, len(w), len(sp))
		p.log.Info("send mechanism chosen", "path", p.network, "mechanism", m, "write_ns_per_kib", mw*1024, "splice_ns_per_kib", ms*1024)
		if p.opts.OnMechanism != nil {
			p.opts.OnMechanism(m, why)
		}
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// threadCPU is the CPU time (user and system) of the calling thread. The
// goroutine must be locked to its thread for a difference to mean
// anything.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}
