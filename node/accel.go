package node

import (
	"fmt"
	"strings"
)

// Accelerator modes a node accepts (--accel). This build has none of the
// accelerators: only plain paths exist, and "auto" chooses them.
const (
	AccelAuto    = "auto"
	AccelNone    = "none"
	AccelIOURing = "iouring"
	AccelSockmap = "sockmap"
)

// accel checks the accelerator mode and records each fallback: an
// accelerator named explicitly is not in this build, so transfers use plain
// syscalls; that is logged once as a warning and counted in
// rr_fallbacks_total, or refused when strict.
func (n *Node) accel(mode string, strict bool) error {
	switch mode {
	case "", AccelAuto, AccelNone:
		if mode == "" {
			mode = AccelAuto
		}
		n.log.Info("plain paths only: this build has no accelerators", "accel", mode)
		return nil
	}
	var asked []string
	for _, a := range strings.Split(mode, ",") {
		switch a {
		case AccelIOURing, AccelSockmap:
			asked = append(asked, a)
		default:
			return fmt.Errorf("accel %q: want auto, none, iouring, sockmap or iouring,sockmap", mode)
		}
	}
	for _, a := range asked {
		if strict {
			return fmt.Errorf("accel %s: not in this build (only plain paths exist), and strict accel refuses the fallback", a)
		}
		n.log.Warn("accelerator not in this build: falling back to plain syscalls", "accel", a, "fallback", "plain")
		n.metrics.fallbacks.WithLabelValues(a, "plain", "not_in_build").Inc()
	}
	return nil
}
