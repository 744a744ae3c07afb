package node

import (
	"context"
	"fmt"
	"net"

	"github.com/roadrunner-wasm/roadrunner/runtime"
	"github.com/roadrunner-wasm/roadrunner/transport"
	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

// setupRemote makes the node's directory (its static peers, and discovery
// if cluster.dns is set, started by New) and its transport servers. It
// opens no socket: peers dial on first use, servers serve the listeners
// that Listen opens.
func (n *Node) setupRemote() error {
	c := &n.cfg
	if _, err := newCluster(n); err != nil {
		return err
	}
	n.frameLimit = c.maxPayloadOfFunctions()
	lim := wire.Limits{MaxPayload: n.frameLimit}
	for _, path := range []transport.Path{transport.PathUnix, transport.PathTCP} {
		// On the unix path a source is a process, or a uid where the
		// peer is in another pid namespace (pods): the nodes of a host
		// may be one source, which a cap would cap all together. Only
		// the fair sharing of a full listener applies there.
		perSource := c.Node.Listen.MaxConnsPerSource
		if path == transport.PathUnix {
			perSource = c.Node.Listen.MaxConns
		}
		srv := transport.NewServer(n, path, &transport.ServerOptions{
			Limits:    lim,
			MaxConns:  c.Node.Listen.MaxConns,
			IOTimeout: c.Node.IOTimeout,
			// Bytes must keep arriving; a connection's first frame and
			// its share of the listener are bounded.
			ReadProgressTimeout: c.Node.ReadProgressTimeout,
			FirstFrameTimeout:   c.Node.Listen.FirstFrameTimeout,
			MaxConnsPerSource:   perSource,
			Status:              func(err error) int32 { return int32(runtime.CodeOf(err)) },
			Logger:              n.log,
			OnRefused:           n.refused,
			IOURing:             n.accels.iouring,
			OnFallback:          n.fallback,
			Sockmap:             n.accels.sockmap,
			Auth:                n.sec.auth,
			TLS:                 n.sec.tls,
			UnixAllow:           n.sec.unixAllow,
			Directory:           n.cl.directory,
			OnDirectory:         n.cl.onDirectory,
			Trace:               true, // a peer's trace context; read only with tracing on
			// Only the unix path can hand a file over; the Server
			// offers it only there, to authenticated dialers.
			SharedMemory: n.accels.shm,
		})
		n.transportServers = append(n.transportServers, srv)
		n.metrics.forServer(srv)
	}
	return nil
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
			n.mu.Lock()
			switch path {
			case transport.PathUnix:
				n.servingUnix = true
			case transport.PathTCP:
				n.servingTCP = true
			}
			n.mu.Unlock()
			return srv.Serve(ln)
		}
	}
	ln.Close()
	return fmt.Errorf("serve transport: no server for path %v", path)
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
