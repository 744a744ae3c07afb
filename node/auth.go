package node

import (
	"fmt"
	"strings"

	"github.com/roadrunner-wasm/roadrunner/transport"
	"github.com/roadrunner-wasm/roadrunner/transport/features"
)

// security is what the node's unix and tcp connections must prove: the
// HELLO keys (node.auth.keys), the tcp path's TLS (node.tls) and the unix
// path's allowed credentials (node.listen.unix_allow). Each is nil when
// not configured.
type security struct {
	auth      *transport.Auth
	tls       *transport.TLS
	unixAllow *transport.UnixAllow
}

// setupSecurity loads the keys and certificates of the configuration and
// says at start what they do to the accelerators.
func (n *Node) setupSecurity() error {
	c := &n.cfg.Node
	if c.Auth.Keys != "" {
		keys, err := transport.LoadKeys(c.Auth.Keys)
		if err != nil {
			return &ConfigError{File: n.cfg.Path, Field: "node.auth.keys", Err: err}
		}
		a, err := transport.NewAuth(keys, c.Name, 0)
		if err != nil {
			return &ConfigError{File: n.cfg.Path, Field: "node.name", Err: fmt.Errorf("%q is the name the HELLO proves, and must be 1 to 64 of A-Z a-z 0-9 . _ -: set node.name", c.Name)}
		}
		n.sec.auth = a
		n.log.Info("peer authentication on: every unix and tcp connection begins with the HELLO's proof", "keys", keys.Len(), "signing_key", keys.ID(0))
	}
	if t := c.TLS; t.Cert != "" {
		tl, err := transport.LoadTLS(t.Cert, t.Key, t.CA)
		if err != nil {
			return &ConfigError{File: n.cfg.Path, Field: "node.tls", Err: err}
		}
		n.sec.tls = tl
		var lost []string
		if c.TCPSend == transport.MechanismSplice {
			lost = append(lost, "splice")
		}
		if n.accels.iouring {
			lost = append(lost, "io_uring")
		}
		if n.accels.sockmap != nil && n.accels.sockmap.Err() == nil { // a refused one is lost already
			lost = append(lost, "sockmap")
		}
		ktls := "available but not used yet"
		if err := features.HaveKTLS(); err != nil {
			ktls = "absent: " + err.Error()
		}
		if len(lost) > 0 {
			n.log.Warn("node.tls: the tcp path is user-space TLS, which these accelerators cannot apply to; its transfers use plain writes and count in rr_fallbacks_total{reason=\"tls\"}", "lost", lost, "kernel_tls", ktls)
		} else {
			n.log.Info("node.tls: the tcp path is TLS 1.3 with client certificates (user space: plain writes)", "kernel_tls", ktls)
		}
	}
	if ua := c.Listen.UnixAllow; len(ua.UIDs) > 0 || len(ua.GIDs) > 0 {
		n.sec.unixAllow = &transport.UnixAllow{UIDs: ua.UIDs, GIDs: ua.GIDs}
	}
	return nil
}

// refused is the transport servers' OnRefused: it counts the refusal (an
// authentication failure in rr_auth_failures_total, any other in
// rr_frames_refused_total) and logs it as a warning, rate-limited per
// reason. A connection closed for being idle, or by the node's own
// shutdown, is no refusal and never reaches it.
func (n *Node) refused(r transport.Refusal) {
	if r.Reason == transport.RefusedAuth {
		n.metrics.authFailure(r.Path.String(), r.Auth)
		n.refusalLog.warn("auth/"+r.Auth, "connection refused: authentication failed", "path", r.Path.String(), "reason", r.Auth, "peer", r.Remote, "at", r.At, "err", r.Err)
		return
	}
	n.metrics.refusal(r.Path, r.Reason)
	if strings.HasPrefix(r.At, "payload") {
		// A payload cut short: its instance was released at once.
		n.metrics.aborted.WithLabelValues(r.Path.String(), r.Reason).Inc()
	}
	n.refusalLog.warn(r.Reason, "connection closed: "+r.Reason, "path", r.Path.String(), "peer", r.Remote, "at", r.At, "err", r.Err)
}
