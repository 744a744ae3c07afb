//go:build linux

package transport

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/roadrunner-wasm/roadrunner/bpf"
	"github.com/roadrunner-wasm/roadrunner/transport/features"
	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

// Sockmap is the sockmap accelerator of one process (--accel sockmap):
// the host's shared SOCKHASH with its sk_msg program ([bpf.Load]), or why
// it is refused. Give the same Sockmap to the process's Peers and Servers
// (DialOptions.Sockmap, ServerOptions.Sockmap): their tcp connections
// exchange HELLOs, and those between two nodes of one host that share the
// map put both sockets in it, so that each message skips both TCP stacks
// and whatever link lies between (a veth pair, say). Close it after the
// Peers and Servers.
type Sockmap struct {
	m       *bpf.Sockmap // nil if refused
	err     error
	opp     bool // SockmapOptions.Opportunistic
	sockets atomic.Int64
}

// OpenSockmap probes the sockmap accelerator and loads the host's map.
// It never returns nil: where sockmaps are refused, [Sockmap.Err] says
// why, and connections use plain TCP, reporting every transfer to a node
// of this host to OnFallback (unless Opportunistic). Off Linux it is
// always refused.
func OpenSockmap(opts *SockmapOptions) *Sockmap {
	var o SockmapOptions
	if opts != nil {
		o = *opts
	}
	s := &Sockmap{opp: o.Opportunistic}
	if s.err = features.HaveSockmap(); s.err == nil {
		s.m, s.err = bpf.Load(&bpf.Options{PinDir: o.PinDir})
	}
	return s
}

// Err is why sockmaps are refused to this process, nil if they are not.
func (s *Sockmap) Err() error { return s.err }

// Sockets is how many sockets of this process are in the map now.
func (s *Sockmap) Sockets() int64 { return s.sockets.Load() }

// HostSockets counts the sockets in the map now, of every process of the
// host.
func (s *Sockmap) HostSockets() (int, error) {
	if s.m == nil {
		return 0, s.err
	}
	return s.m.Len()
}

// Stats returns the messages redirected on this host, and their bytes,
// by every process since the program was loaded.
func (s *Sockmap) Stats() (msgs, bytes uint64, err error) {
	if s.m == nil {
		return 0, 0, s.err
	}
	return s.m.Stats()
}

// Close releases the map; the last open one on the host removes the pins
// (see [bpf.Sockmap.CloseLast]), which it reports.
func (s *Sockmap) Close() (unpinned bool, err error) {
	if s.m == nil {
		return false, nil
	}
	return s.m.CloseLast()
}

// mapID is the map's kernel id, 0 where refused.
func (s *Sockmap) mapID() uint32 {
	if s == nil || s.m == nil {
		return 0
	}
	return s.m.MapID()
}

// sockmapConn is one connection's share of the sockmap: whether its
// socket is in the map, or why not.
type sockmapConn struct {
	s      *Sockmap
	in     bool   // this end's socket is in the map (and counted in s.sockets)
	reason string // why a connection to this host is not redirected; "" if it is, or if the peer is on another host
}

// add puts nc's socket in the map and returns its key and cookie.
func (sc *sockmapConn) add(nc net.Conn) (bpf.Key, uint64, error) {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return bpf.Key{}, 0, fmt.Errorf("sockmap: %T is not a TCP connection", nc)
	}
	k, err := sc.s.m.Add(tc)
	if err != nil {
		return bpf.Key{}, 0, err
	}
	cookie, err := bpf.SocketCookie(tc)
	if err != nil {
		sc.s.m.Remove(k)
		return bpf.Key{}, 0, err
	}
	sc.in = true
	sc.s.sockets.Add(1)
	return k, cookie, nil
}

// closed counts the connection's socket out of the map: the kernel takes
// a closed socket out by itself.
func (sc *sockmapConn) closed() {
	if sc.in {
		sc.in = false
		sc.s.sockets.Add(-1)
	}
}

// myHello is what this end says about itself.
func (s *Sockmap) myHello() wire.Hello {
	h := wire.Hello{MapID: s.mapID()}
	if id, err := HostID(); err == nil {
		h.Host, h.HasHost = id, true
	}
	return h
}

// hello is the dialer's side of the HELLO exchange, right after
// connecting, when the dialer has a sockmap and no keys: it says which
// host and map it has, reads the listener's answer, and joins the map if
// it can (sockmapJoin).
func (c *clientConn) hello(ctx context.Context) error {
	p := c.p
	c.nc.SetDeadline(helloDeadline(ctx, p.opts.IOTimeout))
	defer c.nc.SetDeadline(time.Time{})
	mine := c.myHello()
	if err := writeHello(c.nc, &mine); err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	theirs, err := readHello(c.nc)
	if err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	c.sockmapJoin(&mine, &theirs)
	c.dir = theirs.Directory >= wire.DirectoryVersion
	c.trace = p.opts.Trace && theirs.Trace >= wire.TraceVersion
	c.theirs = &theirs
	return nil
}

// myHello is what the dialer says about itself: its host, and its map if
// it has a sockmap on the tcp path.
func (c *clientConn) myHello() wire.Hello {
	var h wire.Hello
	if c.p.path == PathTCP && c.p.opts.Sockmap != nil && !c.tls {
		h = c.p.opts.Sockmap.myHello()
	} else if id, err := HostID(); err == nil {
		h.Host, h.HasHost = id, true
	}
	if c.p.opts.Directory != nil {
		h.Directory = wire.DirectoryVersion
	}
	if c.p.opts.Trace {
		h.Trace = wire.TraceVersion
	}
	return h
}

// sockmapJoin puts the dialer's socket in the map if the listener (theirs)
// is on this host with the same map and its socket is in it; otherwise it
// records why not. It does nothing without a sockmap on the tcp path.
func (c *clientConn) sockmapJoin(mine, theirs *wire.Hello) {
	p := c.p
	s := p.opts.Sockmap
	if s == nil || p.path != PathTCP {
		return
	}
	c.sm = sockmapConn{s: s}
	if c.tls {
		// Only a peer on this host could have used the map.
		if sameHost(theirs) {
			c.sm.reason = FallbackTLS
		}
		return
	}
	if !sameHost(theirs) {
		p.log.Debug("sockmap: peer on another host")
		return
	}
	switch {
	case s.err != nil:
		c.sm.reason = features.Reason(s.err)
	case theirs.MapID == 0:
		c.sm.reason = SockmapPeerOff
	case theirs.MapID != mine.MapID:
		c.sm.reason = SockmapOtherMap
	case theirs.Cookie == 0:
		c.sm.reason = SockmapPeerRefused
	}
	if c.sm.reason != "" {
		if s.err == nil {
			p.log.Debug("sockmap: a connection to a node of this host uses plain TCP", "reason", c.sm.reason)
		}
		return
	}
	k, _, err := c.sm.add(c.nc)
	if err != nil {
		c.sm.reason = features.Reason(err)
		p.log.Debug("sockmap: adding the socket failed; the connection uses plain TCP", "reason", c.sm.reason, "err", err)
		return
	}
	// The listener's socket must be in the map under this one's reversed
	// tuple: otherwise an address translation lies between (the
	// listener sees other addresses than the dialer) and nothing would
	// be redirected.
	got, ok, err := s.m.Cookie(k.Reverse())
	if err != nil || !ok || got != theirs.Cookie {
		s.m.Remove(k)
		c.sm.closed()
		c.sm.reason = SockmapPeerNotFound
		p.log.Debug("sockmap: the peer's socket is not in the map under the reversed tuple; the connection uses plain TCP", "key", k.String(), "err", err)
		return
	}
	p.log.Debug("sockmap: connection redirected", "key", k.String())
}

// hello is the listener's side of the unauthenticated HELLO exchange: the
// dialer's HELLO (header h) is the connection's first frame; the answer
// is sockmapAnswer's.
func (c *serverConn) hello(h wire.Header) error {
	theirs, err := readHelloPayload(c.br, h)
	if err != nil {
		return err
	}
	mine := c.sockmapAnswer(&theirs)
	var buf [wire.MaxHelloPayload]byte
	payload := mine.Append(buf[:0])
	rh := wire.Header{Kind: wire.KindHello, PayloadLen: uint64(len(payload))}
	rh.Put(c.out[:])
	return c.writeFrame(c.out[:], payload)
}

// sockmapAnswer is what the listener says about itself in answer to the
// dialer's HELLO theirs: its host, and with a Sockmap on the tcp path its
// map and, if the dialer is on this host with the same map, the cookie of
// its socket, put in the map before it answers so that the dialer can see
// it there.
func (c *serverConn) sockmapAnswer(theirs *wire.Hello) wire.Hello {
	var mine wire.Hello
	if id, err := HostID(); err == nil {
		mine.Host, mine.HasHost = id, true
	}
	if c.s.opts.Directory != nil {
		mine.Directory = wire.DirectoryVersion
	}
	if c.s.opts.Trace {
		mine.Trace = wire.TraceVersion
	}
	mine.Shm = c.s.opts.Auth != nil && c.shmOffer()
	s := c.s.opts.Sockmap
	if s == nil || c.s.path != PathTCP {
		return mine
	}
	if c.tls != nil {
		// TLS's records cannot take the map; a dialer of this host that
		// has one on would have used it.
		c.sm = sockmapConn{s: s}
		if sameHost(theirs) {
			c.sm.reason = FallbackTLS
		}
		return mine
	}
	c.sm = sockmapConn{s: s}
	mine.MapID = s.mapID()
	if !sameHost(theirs) || theirs.MapID == 0 {
		return mine
	}
	switch {
	case s.err != nil:
		c.sm.reason = features.Reason(s.err)
	case theirs.MapID != mine.MapID:
		c.sm.reason = SockmapOtherMap
	default:
		_, cookie, err := c.sm.add(c.nc)
		if err != nil {
			c.sm.reason = features.Reason(err)
			c.s.log.Debug("sockmap: adding the socket failed; the connection uses plain TCP", "peer", c.peer, "reason", c.sm.reason, "err", err)
		}
		mine.Cookie = cookie
	}
	return mine
}
