//go:build !linux

package transport

import (
	"context"

	"github.com/roadrunner-wasm/roadrunner/transport/features"
	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

// Sockmap is the sockmap accelerator, which needs Linux: here it is always
// refused.
type Sockmap struct {
	err error
	opp bool
}

// OpenSockmap returns a Sockmap refused for the operating system.
func OpenSockmap(opts *SockmapOptions) *Sockmap {
	s := &Sockmap{err: features.HaveSockmap()}
	if opts != nil {
		s.opp = opts.Opportunistic
	}
	return s
}

// Err is why sockmaps are refused to this process.
func (s *Sockmap) Err() error { return s.err }

// Sockets is 0: no socket is ever in the map.
func (s *Sockmap) Sockets() int64 { return 0 }

// HostSockets fails: there is no map.
func (s *Sockmap) HostSockets() (int, error) { return 0, s.err }

// Stats fails: there is no map.
func (s *Sockmap) Stats() (msgs, bytes uint64, err error) { return 0, 0, s.err }

// Close does nothing.
func (s *Sockmap) Close() (unpinned bool, err error) { return false, nil }

type sockmapConn struct {
	s      *Sockmap
	in     bool
	reason string
}

func (sc *sockmapConn) closed() {}

func (c *clientConn) hello(context.Context) error { return errNoSockets }
func (c *serverConn) hello(wire.Header) error     { return errNoSockets }

func (c *clientConn) myHello() wire.Hello                         { return wire.Hello{} }
func (c *clientConn) sockmapJoin(mine, theirs *wire.Hello)        {}
func (c *serverConn) sockmapAnswer(theirs *wire.Hello) wire.Hello { return wire.Hello{} }
