package transport

import (
	"fmt"
	"net"
	"slices"
	"strings"
)

// UnixAllow lists who may connect on the unix path, by the credentials the
// kernel recorded when the peer's process connected (SO_PEERCRED): its
// effective uid and effective gid. A peer is admitted if its uid is one of
// UIDs or its gid one of GIDs. Both lists empty admit everyone the
// socket's mode lets in, and the kernel is not asked.
//
// Only the primary group counts: a process whose supplementary groups
// include one of GIDs, and whose own gid is not listed, is refused. Ids
// are those of the Server's user namespace: a peer in a user namespace
// whose ids are not mapped into it appears as the overflow ids (65534,
// "nobody", by default), so listing 65534 admits every such peer.
//
// The credentials are read on Linux only. Elsewhere a UnixAllow that
// lists anyone refuses every unix connection, with an error wrapping
// [ErrNotSupported].
type UnixAllow struct {
	UIDs, GIDs []uint32
}

// Admits reports whether a peer running as uid with group gid may connect.
// A nil UnixAllow admits everyone.
func (a *UnixAllow) Admits(uid, gid uint32) bool {
	return a.open() || slices.Contains(a.UIDs, uid) || slices.Contains(a.GIDs, gid)
}

// open reports whether a admits everyone without asking the kernel.
func (a *UnixAllow) open() bool {
	return a == nil || len(a.UIDs) == 0 && len(a.GIDs) == 0
}

// peerCred is what SO_PEERCRED reports of a unix socket's peer: its
// process's id (0 if it is not visible in this pid namespace), effective
// uid and effective gid at the time it connected.
type peerCred struct {
	pid      int32
	uid, gid uint32
}

// peerCredResult is what reading a unix peer's credentials gave, at accept.
type peerCredResult struct {
	cred peerCred
	err  error
}

// admitted checks the connection's peer against ServerOptions.UnixAllow,
// before anything is read from it; false if it is refused, and reported.
func (c *serverConn) admitted() bool {
	a := c.s.opts.UnixAllow
	if a.open() || !isUnix(c.nc) {
		return true
	}
	var cred peerCred
	var err error
	if r := c.cred; r != nil {
		cred, err = r.cred, r.err // read at accept, for the source
	} else {
		cred, err = readPeerCred(c.nc)
	}
	if err == nil {
		if a.Admits(cred.uid, cred.gid) {
			return true
		}
		err = fmt.Errorf("uid %d gid %d pid %d not in unix_allow", cred.uid, cred.gid, cred.pid)
	}
	c.s.refused(Refusal{Path: c.s.path, Reason: RefusedAuth, Auth: AuthPeerCred, Remote: c.peer, Source: c.origin.Source, At: "accept", Err: err})
	return false
}

// isUnix reports whether nc is a unix socket's connection. SO_PEERCRED
// means nothing on another: on a tcp socket Linux reports uid and gid
// 4294967295 (-1), so a tcp peer is not checked, rather than mistaken for
// one. A connection that says it is a unix one without being a
// *net.UnixConn is checked, and refused if it has no descriptor.
func isUnix(nc net.Conn) bool {
	if _, ok := nc.(*net.UnixConn); ok {
		return true
	}
	a := nc.LocalAddr()
	return a != nil && strings.HasPrefix(a.Network(), "unix")
}
