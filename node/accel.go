package node

import (
	"fmt"
	"strings"

	"github.com/roadrunner-wasm/roadrunner/transport"
	"github.com/roadrunner-wasm/roadrunner/transport/features"
)

// Accelerator modes a node accepts (--accel).
const (
	AccelAuto    = "auto"
	AccelNone    = "none"
	AccelIOURing = transport.AccelIOURing
	AccelSockmap = transport.AccelSockmap
)

// accels is what accel settled: the accelerators the node's paths use.
type accels struct {
	iouring bool // submit the unix and tcp paths' I/O through io_uring
	// sockmap is the host's sockmap when asked for (its Err says if it
	// is refused): tcp connections to nodes of this host are redirected.
	sockmap *transport.Sockmap
}

// accel parses the accelerator mode, probes what it asks for and settles
// n.accels. An accelerator asked for by name that the system refuses (or
// this build lacks) falls back to plain syscalls: that is logged as a
// warning, shown in rr_accel, and counted in rr_fallbacks_total for every
// transfer it concerns; with strict it is an error naming the reason
// instead. auto uses what the system has and was measured to win on such a
// host (docs/BENCHMARKS.md): the sockmap, where this process may use it,
// for tcp peers on this host, quietly (no warning, no fallback counted
// where it cannot serve); not io_uring. none uses nothing.
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
			if err := features.HaveIOURing(); err != nil {
				if strict {
					return fmt.Errorf("accel iouring: refused, and strict accel refuses the fallback: %w", err)
				}
				n.log.Warn("io_uring refused: the unix and tcp paths use plain syscalls", "accel", a, "reason", features.Reason(err), "err", err)
				n.metrics.setAccel(a, false)
				continue
			}
			n.metrics.setAccel(a, true)
			n.log.Info("accelerator on", "accel", a)
		case AccelSockmap:
			sm := transport.OpenSockmap(&transport.SockmapOptions{PinDir: n.cfg.Node.SockmapPinDir})
			n.accels.sockmap = sm
			if err := sm.Err(); err != nil {
				if strict {
					return fmt.Errorf("accel sockmap: refused, and strict accel refuses the fallback: %w", err)
				}
				sm.LogRefused(n.log)
				n.metrics.setAccel(a, false)
			} else {
				n.metrics.setAccel(a, true)
				n.log.Info("accelerator on", "accel", a, "pin_dir", n.cfg.Node.SockmapPinDir)
			}
			n.metrics.forSockmap(sm)
		}
	}
	if mode == AccelAuto {
		n.autoSockmap()
	}
	if len(asked) == 0 && n.accels.sockmap == nil {
		n.log.Info("plain paths", "accel", mode)
	}
	return nil
}

// autoSockmap opens the sockmap for --accel auto where the probe allows
// it: a connection to a node of this host that shares it skips TCP, one
// that cannot is plain TCP without a word.
func (n *Node) autoSockmap() {
	if err := features.HaveSockmap(); err != nil {
		n.log.Debug("auto: no sockmap", "reason", err)
		return
	}
	sm := transport.OpenSockmap(&transport.SockmapOptions{PinDir: n.cfg.Node.SockmapPinDir, Opportunistic: true})
	if err := sm.Err(); err != nil {
		n.log.Info("auto: no sockmap", "err", err)
		return
	}
	n.accels.sockmap = sm
	n.metrics.setAccel(AccelSockmap, true)
	n.metrics.forSockmap(sm)
	n.log.Info("accelerator on", "accel", AccelSockmap, "by", AccelAuto, "pin_dir", n.cfg.Node.SockmapPinDir)
}

// closeAccels releases the node's share of the host's sockmap, after its
// connections closed; the last node of the host to close removes the
// pins.
func (n *Node) closeAccels() {
	sm := n.accels.sockmap
	if sm == nil {
		return
	}
	n.accels.sockmap = nil
	unpinned, err := sm.Close()
	if err != nil {
		n.log.Warn("sockmap: close", "err", err)
	}
	if unpinned {
		n.log.Info("sockmap: last node of the host out: pins removed", "pin_dir", n.cfg.Node.SockmapPinDir)
	}
}
