//go:build linux

package transport

import "golang.org/x/sys/unix"

// LastSpliceMore reports whether the last splice call of p's idle
// connection passed SPLICE_F_MORE, and false, false if it has no such
// connection or it does not splice.
func LastSpliceMore(p *Peer) (more, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.idle) != 1 {
		return false, false
	}
	s, isSplice := p.idle[0].snd.(*spliceSender)
	if !isSplice {
		return false, false
	}
	return s.lastFlags&unix.SPLICE_F_MORE != 0, true
}
