//go:build linux

package transport

import (
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// readPeerCred reads the credentials the kernel recorded of nc's peer when
// it connected (getsockopt SO_PEERCRED). The peer cannot forge them;
// nothing it does after connecting (setuid, passing the descriptor to
// another process) changes them.
func readPeerCred(nc net.Conn) (peerCred, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return peerCred{}, fmt.Errorf("peer credentials: %T has no file descriptor", nc)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return peerCred{}, fmt.Errorf("peer credentials: %w", err)
	}
	var uc *unix.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		uc, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return peerCred{}, fmt.Errorf("peer credentials: %w", err)
	}
	if serr != nil {
		return peerCred{}, fmt.Errorf("getsockopt SO_PEERCRED: %w", serr)
	}
	return peerCred{pid: uc.Pid, uid: uc.Uid, gid: uc.Gid}, nil
}
