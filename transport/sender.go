package transport

import "context"

// sender carries a connection's frames with one mechanism. Each connection
// of a Peer has one, chosen when it is dialed (Peer.newSender): the
// choice is made once, not on every send, and the per-mechanism state
// (a pipe, a ring) lives in the sender, not in the connection.
//
//	send_writev.go        writev: the unix path, and the tcp path's write
//	send_splice_linux.go  vmsplice and splice through the connection's pipe
//	send_auto_linux.go    write or splice, chosen per peer by measurement
//	send_ring_linux.go    io_uring for large payloads, another sender for the rest
//	sender.go             a sender that reports every transfer as a fallback
type sender interface {
	// send writes t's frame, reads its answer and fills in t.landed and
	// t.mech (what carried the payload, even when the transfer failed).
	send(ctx context.Context, c *clientConn, t *transfer) error
	// abort makes the I/O in flight fail at once; any goroutine may
	// call it.
	abort()
	// close releases what the sender holds, with its connection.
	close()
}

// writer is the writing half of the plain senders: a sender that chooses
// between them per transfer (auto) times only the writing.
type writer interface {
	write(ctx context.Context, c *clientConn, t *transfer) error
}

// newSender chooses the sender of the connection c: the path's mechanism,
// under io_uring if asked for and allowed, and reporting each transfer
// as a fallback where an accelerator asked for is refused for this
// connection.
func (p *Peer) newSender(c *clientConn) sender {
	s := p.mechanismSender()
	if c.tls {
		// crypto/tls writes the records: no accelerator can take them.
		if p.asked == MechanismSplice {
			s = &fallbackSender{sender: s, from: "splice", to: "write", reason: FallbackTLS, onFallback: p.opts.OnFallback}
		}
		if p.opts.IOURing {
			s = &fallbackSender{sender: s, from: AccelIOURing.String(), to: "plain", reason: FallbackTLS, onFallback: p.opts.OnFallback}
		}
	} else if p.opts.IOURing {
		s = p.ringSender(c, s)
	}
	if c.sm.reason != "" && !c.sm.s.opp {
		s = &fallbackSender{sender: s, from: AccelSockmap.String(), to: "plain", reason: c.sm.reason, onFallback: p.opts.OnFallback}
	}
	return s
}

// fallbackSender reports every transfer of its connection as a fallback
// from an accelerator or mechanism that was asked for and refused
// ("iouring" or "sockmap" to "plain", "splice" to "write"), then sends it
// with the sender underneath.
type fallbackSender struct {
	sender
	from, to   string
	reason     string
	onFallback func(from, to, reason string)
}

func (f *fallbackSender) send(ctx context.Context, c *clientConn, t *transfer) error {
	if f.onFallback != nil {
		f.onFallback(f.from, f.to, f.reason)
	}
	return f.sender.send(ctx, c, t)
}

// announce tells OnMechanism the peer's mechanism once, for fixed ones:
// auto tells it when it settles.
func (p *Peer) announce() {
	if p.auto != nil {
		return
	}
	p.announced.Do(func() {
		why := "configured"
		switch {
		case p.path == PathUnix:
			why = "the unix path writes"
		case p.tls != nil:
			why = "TLS: crypto/tls writes its records, which splice, io_uring and the sockmap cannot carry"
		}
		p.log.Debug("send mechanism", "path", p.path.String(), "mechanism", p.opts.Mechanism.String(), "why", why)
		if p.opts.OnMechanism != nil {
			p.opts.OnMechanism(p.opts.Mechanism, why)
		}
	})
}
