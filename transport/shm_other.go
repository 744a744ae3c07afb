//go:build !linux

package transport

import (
	"context"

	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

// Off Linux there are no unix or tcp paths (NewPeer and ListenUnix fail),
// so no shm path: these keep the shared code compiling.

type shmState struct{ on bool }

type shmMaps struct{}

type shmConn struct{}

func (c *serverConn) shmOffer() bool                           { return false }
func (c *serverConn) shmLookup(string)                         {}
func (c *serverConn) fillShm([]byte) error                     { return errNoSockets }
func (c *clientConn) shmJoin(*wire.Hello)                      {}
func (c *clientConn) shmRelease()                              {}
func (c *clientConn) shmUse(string, int) bool                  { return false }
func (c *clientConn) sendShm(context.Context, *transfer) error { return errNoSockets }
