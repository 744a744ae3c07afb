//go:build linux

package transport

import (
	"golang.org/x/sys/unix"

	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

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

// SetShmCopyHook makes every copy into a receiver's memory file call h
// halfway through, until restore is called.
func SetShmCopyHook(h func()) (restore func()) {
	shmCopyHook.Store(&h)
	return func() { shmCopyHook.Store(nil) }
}

// SetShmOfferHook lets h alter every shm offer a Server sends, and the
// descriptor handed over with it (-1 if none), until restore is called.
func SetShmOfferHook(h func(o *wire.ShmOffer, fd *int)) (restore func()) {
	shmOfferHook.Store(&h)
	return func() { shmOfferHook.Store(nil) }
}
