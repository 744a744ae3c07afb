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
)

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

// autoChooser settles a peer's tcp mechanism from measurement; the
// autoSender of each of the peer's connections asks it which mechanism
// carries a transfer.
type autoChooser struct {
	mu      sync.Mutex
	next    int          // transfers sampled so far: even ones write, odd ones splice
	samples [2][]float64 // [write, splice] thread CPU ns per byte
	bytes   [2]int       // [write, splice] bytes sampled
	done    atomic.Int32 // 0 while sampling, else the chosen Mechanism + 1
	link    sync.Once
}

// classify settles the mechanism at write if the connection nc leaves
// through a virtual link, once per peer (at its first connection).
func (a *autoChooser) classify(p *Peer, nc net.Conn) {
	a.link.Do(func() {
		name, physical := egress(nc)
		if physical {
			p.log.Debug("send mechanism: measuring write and splice", "path", p.path.String(), "link", name)
			return
		}
		if a.settle(MechanismWrite) {
			why := "virtual link " + name + ": splice costs more CPU than write where the receiver shares the machine"
			p.log.Debug("send mechanism chosen", "path", p.path.String(), "mechanism", MechanismWrite.String(), "link", name, "why", why)
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

// chosen is the settled mechanism, if it is.
func (a *autoChooser) chosen() (Mechanism, bool) {
	if d := a.done.Load(); d != 0 {
		return Mechanism(d - 1), true
	}
	return 0, false
}

// pick returns the mechanism for a payload of n bytes and whether the
// transfer is a sample to time.
func (a *autoChooser) pick(n int) (m Mechanism, sample bool) {
	if m, ok := a.chosen(); ok {
		if m == MechanismSplice && n < autoMinBytes {
			return MechanismWrite, false
		}
		return m, false
	}
	if n < autoMinBytes {
		return MechanismWrite, false
	}
	if spliceRefused() != nil {
		a.settle(MechanismWrite)
		return MechanismWrite, false
	}
	a.mu.Lock()
	i := a.next % 2
	a.next++
	a.mu.Unlock()
	return [2]Mechanism{MechanismWrite, MechanismSplice}[i], true
}

func (a *autoChooser) settle(m Mechanism) bool {
	return a.done.CompareAndSwap(0, int32(m)+1)
}

// record adds a finished sample, cpu spent sending n bytes with m, and
// settles the mechanism once both have enough.
func (a *autoChooser) record(p *Peer, m Mechanism, cpu time.Duration, n int) {
	i := 0
	if m == MechanismSplice {
		i = 1
	}
	a.mu.Lock()
	a.samples[i] = append(a.samples[i], float64(cpu)/float64(n))
	a.bytes[i] += n
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
	chosen := MechanismWrite
	if spliceRefused() == nil && ms < autoMargin*mw {
		chosen = MechanismSplice
	}
	if a.settle(chosen) {
		why := fmt.Sprintf("measured sender CPU per KiB: write %.0f ns, splice %.0f ns (medians of %d and %d transfers)", mw*1024, ms*1024, len(w), len(sp))
		p.log.Debug("send mechanism chosen", "path", p.path.String(), "mechanism", chosen.String(), "write_ns_per_kib", mw*1024, "splice_ns_per_kib", ms*1024)
		if p.opts.OnMechanism != nil {
			p.opts.OnMechanism(chosen, why)
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
