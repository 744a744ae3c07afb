package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/roadrunner-wasm/roadrunner/runtime"
	"github.com/roadrunner-wasm/roadrunner/transport"
	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

// peer is one configured peer node.
type peer struct {
	name string
	tp   *transport.Peer
}

// setupRemote makes the node's peers and its transport servers. It opens no
// socket: peers dial on first use, servers serve the listeners that Listen
// opens.
func (n *Node) setupRemote() error {
	c := &n.cfg
	n.routes = make(map[string]*peer)
	for _, pc := range c.Peers {
		p := &peer{name: pc.Name}
		log := n.log.With("peer_name", pc.Name)
		tp, err := transport.NewPeer(pc.Address, &transport.DialOptions{
			Mechanism:   c.Node.TCPSend,
			MaxConns:    pc.MaxConns,
			DialTimeout: c.Node.DialTimeout,
			IOTimeout:   c.Node.IOTimeout,
			Verify:      c.Node.Verify,
			MaxReply:    c.Node.MaxPayload,
			Logger:      log,
			OnFallback:  n.fallback,
			IOURing:     n.accels.iouring,
			ZeroCopy:    n.accels.iouring,
			Sockmap:     n.accels.sockmap,
			OnMechanism: func(mechanism transport.Mechanism, why string) {
				n.metrics.setMechanism(pc.Name, mechanism)
				log.Info("send mechanism chosen", "mechanism", mechanism.String(), "why", why)
			},
			OnZeroCopyCopied: n.zeroCopyCopied,
			Auth:             n.sec.auth,
			TLS:              n.sec.tls,
		})
		if err != nil {
			return fmt.Errorf("peer %s: %w", pc.Name, err)
		}
		p.tp = tp
		n.peers = append(n.peers, p)
		n.metrics.forPeer(pc.Name, tp)
		for _, f := range pc.Functions {
			n.routes[f] = p
		}
	}
	lim := wire.Limits{MaxPayload: n.maxPayload()}
	for _, path := range []transport.Path{transport.PathUnix, transport.PathTCP} {
		srv := transport.NewServer(n, path, &transport.ServerOptions{
			Limits:     lim,
			MaxConns:   c.Node.Listen.MaxConns,
			IOTimeout:  c.Node.IOTimeout,
			Status:     func(err error) int32 { return int32(runtime.CodeOf(err)) },
			Logger:     n.log,
			OnRefused:  n.refused,
			IOURing:    n.accels.iouring,
			OnFallback: n.fallback,
			Sockmap:    n.accels.sockmap,
			Auth:       n.sec.auth,
			TLS:        n.sec.tls,
			UnixAllow:  n.sec.unixAllow,
		})
		n.transportServers = append(n.transportServers, srv)
		n.metrics.forServer(srv)
	}
	return nil
}

// maxPayload is the largest max_payload of the node's functions: what its
// transport servers accept in a frame.
func (n *Node) maxPayload() uint64 {
	var m uint64
	for _, f := range n.cfg.Functions {
		m = max(m, f.MaxPayload)
	}
	return m
}

// Listen opens the listeners of node.listen: the unix path's socket (mode,
// group, stale-socket replacement as transport.ListenUnix does) and the tcp
// path's address. It returns them by path; ServeTransport serves them.
func (n *Node) Listen(ctx context.Context) (map[transport.Path]net.Listener, error) {
	l := n.cfg.Node.Listen
	lns := map[transport.Path]net.Listener{}
	if l.Unix != "" {
		ln, err := transport.ListenUnix(l.Unix, l.UnixMode, l.UnixGID)
		if err != nil {
			return nil, err
		}
		lns[transport.PathUnix] = ln
	}
	if l.TCP != "" {
		lc := net.ListenConfig{KeepAlive: transport.DefaultKeepAlive}
		ln, err := lc.Listen(ctx, "tcp", l.TCP)
		if err != nil {
			for _, ln := range lns {
				ln.Close()
			}
			return nil, fmt.Errorf("listen tcp %s: %w", l.TCP, err)
		}
		lns[transport.PathTCP] = ln
	}
	return lns, nil
}

// ServeTransport serves frames of the given path (transport.PathUnix or
// transport.PathTCP) arriving on ln until Shutdown, and then returns nil.
func (n *Node) ServeTransport(path transport.Path, ln net.Listener) error {
	for _, srv := range n.transportServers {
		if srv.Path() == path {
			return srv.Serve(ln)
		}
	}
	ln.Close()
	return fmt.Errorf("serve transport: no server for path %v", path)
}

// sendRemote sends payload to a function of peer p, within inv.
func (n *Node) sendRemote(inv *invocation, p *peer, from, to string, payload []byte) error {
	size := uint64(len(payload))
	start := time.Now()
	path := p.tp.Path()
	hop := inv.startHop(from, to, path, size)
	var reply io.Writer
	if inv.reply != nil && !inv.replied {
		reply = inv.relay
	}
	sent, err := p.tp.Send(inv.ctx, to, payload, reply)
	if err != nil {
		n.peerAuthFailed(p, path, err)
		err = remoteError(p, to, err)
	}
	total := time.Since(start)
	code := codeIndex(err)
	inv.endHop(hop, sent.Landed, total, code)
	n.metrics.transfer(path, sent.Mechanism, size, sent.Landed.Seconds(), sent.Landed > 0, code)
	return err
}

// remoteError turns a transport error into one that carries its ABI code:
// the ACK's status, or transport for a failed connection.
func remoteError(p *peer, to string, err error) error {
	var se *transport.StatusError
	if errors.As(err, &se) {
		code := runtime.Code(se.Status)
		return fmt.Errorf("%s on peer %s: %w", to, p.name, code)
	}
	return fmt.Errorf("send to %s on peer %s: %w: %w", to, p.name, runtime.CodeTransport, err)
}

// replyRelay passes the reply of a remote function (a REPLY frame) to its
// invocation's reply writer, as Reply does for a local one.
type replyRelay struct{ inv *invocation }

func (r *replyRelay) Write(p []byte) (int, error) {
	inv := r.inv
	if inv.reply == nil {
		return 0, errNoInvocation
	}
	if inv.replied {
		return 0, errAlreadyReplied
	}
	inv.replied = true
	return inv.reply.Write(p)
}

// zeroCopyCopied is the peers' OnZeroCopyCopied: it counts the connection
// and says once why zero copy went off.
func (n *Node) zeroCopyCopied() {
	n.metrics.zeroCopyCopied.Inc()
	n.copiedLog.Do(func() {
		n.log.Info("zero-copy sends come back copied (loopback, veth, or a NIC without the support): zero copy is off for such connections")
	})
}
