//go:build linux

package transport

import (
	"fmt"

	"github.com/roadrunner-wasm/roadrunner/transport/features"
)

// mechanismSender is the sender of the peer's mechanism, without
// accelerators.
func (p *Peer) mechanismSender() sender {
	switch p.opts.Mechanism {
	case MechanismSplice:
		return newSpliceSender(p.opts.ChunkSize)
	case MechanismAuto:
		return &autoSender{a: p.auto, write: writevSender{mech: MechanismWrite, chunk: p.opts.ChunkSize}, splice: newSpliceSender(p.opts.ChunkSize)}
	case MechanismWrite:
		return &writevSender{mech: MechanismWrite, chunk: p.opts.ChunkSize}
	}
	return &writevSender{mech: MechanismWritev} // the unix path: one writev
}

// ringSender puts s under the connection's own io_uring, or, where
// io_uring is refused, reports every transfer of s as a fallback.
func (p *Peer) ringSender(c *clientConn, s sender) sender {
	err := features.HaveIOURing()
	var cr *connRing
	if err == nil {
		// SEND_ZC on a socket in the sockmap fails (EOPNOTSUPP); the
		// redirect copies the message into the peer's queue anyway.
		cr, err = newConnRing(c.raw, p.opts.ZeroCopy && !c.sm.in)
		if err != nil {
			err = fmt.Errorf("io_uring: %w", err)
		}
	}
	if err != nil {
		p.log.Debug("io_uring refused: the connection uses plain syscalls", "err", err)
		return &fallbackSender{sender: s, from: AccelIOURing.String(), to: "plain", reason: features.Reason(err), onFallback: p.opts.OnFallback}
	}
	return &ringSender{ring: cr, small: s}
}
