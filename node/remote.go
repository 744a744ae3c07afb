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
	path pathIndex
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
			Mechanism:        c.Node.TCPSend,
			MaxConns:         pc.MaxConns,
			DialTimeout:      c.Node.DialTimeout,
			IOTimeout:        c.Node.IOTimeout,
			Verify:           c.Node.Verify,
			MaxReply:         c.Node.MaxPayload,
			Logger:           log,
			OnFallback:       n.metrics.fallback,
			IOURing:          n.accels.iouring,
			ZeroCopy:         n.accels.iouring,
			OnZeroCopyCopied: n.metrics.zeroCopyCopied.Inc,
			Sockmap:          n.accels.sockmap,
			OnMechanism: func(mechanism, why string) {
				n.metrics.setMechanism(pc.Name, mechanism)
			},
		})
		if err != nil {
			return fmt.Errorf("peer %s: %w", pc.Name, err)
		}
		p.tp = tp
		p.path = pathUnix
		if tp.Path() == transport.PathTCP {
			p.path = pathTCP
		}
		n.peers = append(n.peers, p)
		n.metrics.forPeer(pc.Name, tp)
		for _, f := range pc.Functions {
			n.routes[f] = p
		}
	}
	lim := wire.Limits{MaxPayload: n.maxPayload()}
	for _, path := range []string{transport.PathUnix, transport.PathTCP} {
		srv := transport.NewServer(n, path, &transport.ServerOptions{
			Limits:     lim,
			MaxConns:   c.Node.Listen.MaxConns,
			IOTimeout:  c.Node.IOTimeout,
			Status:     func(err error) int32 { return int32(runtime.CodeOf(err)) },
			Logger:     n.log,
			OnRefused:  n.metrics.refusedCounter(path),
			IOURing:    n.accels.iouring,
			OnFallback: n.metrics.fallback,
			Sockmap:    n.accels.sockmap,
		})
		n.transportServers = append(n.transportServers, srv)
		n.metrics.forServer(path, srv)
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
func (n *Node) Listen(ctx context.Context) (map[string]net.Listener, error) {
	l := n.cfg.Node.Listen
	lns := map[string]net.Listener{}
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
func (n *Node) ServeTransport(path string, ln net.Listener) error {
	for _, srv := range n.transportServers {
		if srv.Path() == path {
			return srv.Serve(ln)
		}
	}
	ln.Close()
	return fmt.Errorf("serve transport: unknown path %q", path)
}

// sendRemote sends payload to a function of peer p, within inv.
func (n *Node) sendRemote(inv *invocation, p *peer, from, to string, payload []byte) error {
	size := uint64(len(payload))
	start := time.Now()
	hop := inv.startHop(from, to, paths[p.path], size)
	var reply io.Writer
	if inv.reply != nil && !inv.replied {
		reply = inv.relay
	}
	landed, err := p.tp.Send(inv.ctx, to, payload, reply)
	if err != nil {
		err = remoteError(p, to, err)
	}
	total := time.Since(start)
	code := codeIndex(err)
	inv.endHop(hop, landed, total, code)
	n.metrics.transfer(p.path, size, landed.Seconds(), landed > 0, code)
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
