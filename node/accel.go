package node

import (
	"fmt"
	"strings"

	"github.com/roadrunner-wasm/roadrunner/transport"
)

// Accelerator modes a node accepts (--accel).
const (
	AccelAuto    = "auto"
	AccelNone    = "none"
	AccelIOURing = transport.AccelIOURing
	AccelSockmap = "sockmap"
)

// accels is what accel settled: the accelerators the node's paths use.
type accels struct {
	iouring bool // submit the unix and tcp paths' I/O through io_uring
}

// accel parses the accelerator mode, probes what it asks for and settles
// n.accels. An accelerator asked for by name that the system refuses (or
// this build lacks) falls back to plain syscalls: that is logged as a
// warning, shown in rr_accel, and counted in rr_fallbacks_total for every
// transfer it concerns; with strict it is an error naming the reason
// instead. auto uses what the system has and was measured to win on such a
// host (docs/BENCHMARKS.md); none uses nothing.
func (n *Node) accel(mode string, strict bool) error {
	if mode == "" {
		mode = AccelAuto
	}
	var asked []string
	switch mode {
	case AccelAuto, AccelNone:
	default:
		for _, a := range strings.Split(mode, ",") {
			switch a {
			case AccelIOURing, AccelSockmap:
				asked = append(asked, a)
			default:
				return fmt.Errorf("accel %q: want auto, none, iouring, sockmap or iouring,sockmap", mode)
			}
		}
	}
	for _, a := range asked {
		switch a {
		case AccelIOURing:
			n.accels.iouring = true
			if err := transport.ProbeIOURing(); err != nil {
				if strict {
					return fmt.Errorf("accel iouring: refused, and strict accel refuses the fallback: %w", err)
				}
				transport.LogIOURingRefused(n.log, err)
				n.metrics.setAccel(a, false)
				continue
			}
			n.metrics.setAccel(a, true)
			n.log.Info("accelerator on", "accel", a)
		case AccelSockmap:
			if strict {
				return fmt.Errorf("accel %s: not in this build (only plain paths exist), and strict accel refuses the fallback", a)
			}
			n.log.Warn("accelerator not in this build: falling back to plain syscalls", "accel", a, "fallback", "plain")
			n.metrics.fallbacks.WithLabelValues(a, "plain", "not_in_build").Inc()
			n.metrics.setAccel(a, false)
		}
	}
	if len(asked) == 0 {
		n.log.Info("plain paths", "accel", mode)
	}
	return nil
}
