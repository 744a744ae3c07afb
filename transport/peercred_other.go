//go:build !linux

package transport

import (
	"fmt"
	"net"
	"runtime"
)

var errNoPeerCred = fmt.Errorf("unix_allow: peer credentials (SO_PEERCRED) on %s: %w", runtime.GOOS, ErrNotSupported)

// readPeerCred fails: SO_PEERCRED is Linux's, so a UnixAllow that lists
// anyone refuses every unix connection here.
func readPeerCred(net.Conn) (peerCred, error) { return peerCred{}, errNoPeerCred }
