package node

import (
	"fmt"
	"sync"

	"github.com/roadrunner-wasm/roadrunner/transport"
	"github.com/roadrunner-wasm/roadrunner/transport/features"
)

// accels is what accel settled: the accelerators the node's paths use.
type accels struct {
	iouring bool // submit the unix and tcp paths' I/O through io_uring
	// sockmap is the host's sockmap when asked for (its Err says if it
	// is refused): tcp connections to nodes of this host are redirected.
	sockmap *transport.Sockmap
	// shm: the shm path, to and from authenticated nodes of this host
	// over the unix path, for functions with shared_memory. shmQuiet:
	// turned on by auto, it is used where it applies and nothing is said
	// or counted where it does not (as auto's sockmap).
	shm, shmQuiet bool
}

// accel probes what mode asks for and settles n.accels. An accelerator
// asked for by name that the system refuses (or this build lacks) falls
// back to plain syscalls: that is logged as a warning, shown in rr_accel,
// and counted in rr_fallbacks_total for every transfer it concerns; with
// strict it is an error naming the reason instead. auto uses what the
// system has and was measured to win on such a host (docs/BENCHMARKS.md):
// the sockmap, where this process may use it, for tcp peers on this host,
// and the shm path, where the node has keys and may make a memfd, both
// quietly (no warning, no fallback counted where they cannot serve); not
// io_uring. none uses nothing.
func (n *Node) accel(mode transport.Accels, strict bool) error {
	if mode.Has(transport.AccelIOURing) {
		n.accels.iouring = true
		if err := features.HaveIOURing(); err != nil {
			if strict {
				return fmt.Errorf("accel iouring: refused, and strict accel refuses the fallback: %w", err)
			}
			n.fallbackLog.logRefused(n, transport.AccelIOURing, features.Reason(err), err)
			n.metrics.setAccel(transport.AccelIOURing, false)
		} else {
			n.metrics.setAccel(transport.AccelIOURing, true)
			n.log.Info("accelerator on", "accel", transport.AccelIOURing.String())
		}
	}
	if mode.Has(transport.AccelSockmap) {
		sm := transport.OpenSockmap(&transport.SockmapOptions{PinDir: n.cfg.Node.SockmapPinDir})
		n.accels.sockmap = sm
		if err := sm.Err(); err != nil {
			if strict {
				return fmt.Errorf("accel sockmap: refused, and strict accel refuses the fallback: %w", err)
			}
			n.fallbackLog.logRefused(n, transport.AccelSockmap, features.Reason(err), err)
			n.metrics.setAccel(transport.AccelSockmap, false)
		} else {
			n.metrics.setAccel(transport.AccelSockmap, true)
			n.log.Info("accelerator on", "accel", transport.AccelSockmap.String(), "pin_dir", n.cfg.Node.SockmapPinDir)
		}
		n.metrics.forSockmap(sm)
	}
	if mode.Has(transport.AccelShm) {
		if err := n.shmUsable(); err != nil {
			if strict {
				return fmt.Errorf("accel shm: refused, and strict accel refuses the fallback: %w", err)
			}
			n.fallbackLog.logRefused(n, transport.AccelShm, shmReason(err), err)
			n.metrics.setAccel(transport.AccelShm, false)
		} else {
			n.accels.shm = true
			n.metrics.setAccel(transport.AccelShm, true)
			n.log.Info("accelerator on", "accel", transport.AccelShm.String())
		}
	}
	if mode == transport.AccelAuto {
		n.autoSockmap()
		if err := n.shmUsable(); err != nil {
			n.log.Debug("auto: no shm path", "reason", err)
		} else {
			n.accels.shm, n.accels.shmQuiet = true, true
			n.metrics.setAccel(transport.AccelShm, true)
			n.log.Info("accelerator on", "accel", transport.AccelShm.String(), "by", transport.AccelAuto.String())
		}
	}
	if !n.accels.iouring && n.accels.sockmap == nil && !n.accels.shm {
		n.log.Info("plain paths", "accel", mode.String())
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
	n.metrics.setAccel(transport.AccelSockmap, true)
	n.metrics.forSockmap(sm)
	n.log.Info("accelerator on", "accel", transport.AccelSockmap.String(), "by", transport.AccelAuto.String(), "pin_dir", n.cfg.Node.SockmapPinDir)
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

// fallbackLog is the node's logging policy for fallbacks: the transport
// reports every transfer that falls back (counted in rr_fallbacks_total);
// the node logs the first one of each kind (what was refused, what was
// used instead, why) as a warning, none after it, and none at all for an
// accelerator whose refusal it logged at start-up.
type fallbackLog struct {
	mu      sync.Mutex
	refused map[string]bool      // accelerators whose refusal was logged at start-up
	seen    map[fallbackKey]bool // kinds of fallback already logged
}

// fallbackKey is a kind of fallback: a struct key, so that looking one up
// for every transfer that falls back allocates nothing.
type fallbackKey struct{ from, to, reason string }

// logRefused logs, once per accelerator, that it was asked for and is
// refused.
func (l *fallbackLog) logRefused(n *Node, a transport.Accels, reason string, err error) {
	l.mu.Lock()
	said := l.refused[a.String()]
	if l.refused == nil {
		l.refused = map[string]bool{}
	}
	l.refused[a.String()] = true
	l.mu.Unlock()
	if said {
		return
	}
	what := "io_uring refused: the unix and tcp paths use plain syscalls"
	switch a {
	case transport.AccelSockmap:
		what = "sockmap refused: tcp connections to nodes of this host use plain TCP"
	case transport.AccelShm:
		what = "shm refused: payloads to nodes of this host go over their unix socket"
	}
	n.log.Warn(what, "accel", a.String(), "reason", reason, "err", err)
}

// first reports whether the fallback k is to be logged: the first of its
// kind, for an accelerator not already said refused.
func (l *fallbackLog) first(k fallbackKey) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen[k] || l.refused[k.from] {
		return false
	}
	if l.seen == nil {
		l.seen = map[fallbackKey]bool{}
	}
	l.seen[k] = true
	return true
}

// fallback is the transport's OnFallback: it counts every transfer, and
// logs the first of each kind.
func (n *Node) fallback(from, to, reason string) {
	if n.accels.shmQuiet && from == "shm" {
		return // auto's shm path: where it does not apply is no fallback
	}
	n.metrics.fallback(from, to, reason)
	if n.fallbackLog.first(fallbackKey{from, to, reason}) {
		n.log.Warn("transfers fall back: "+from+" refused, "+to+" used instead", "accel", from, "to", to, "reason", reason)
	}
}
