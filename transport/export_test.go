package transport

// KeepZeroCopy makes p's connections keep sending with SEND_ZC even when
// the kernel reports it copied (loopback does, always), so that a test can
// run many zero-copy transfers on one connection.
func KeepZeroCopy(p *Peer) { p.keepZeroCopy = true }

// ZeroCopySends is how many SEND_ZC requests of p's transfers have
// completed with their notification.
func ZeroCopySends(p *Peer) int64 { return p.zcSends.Load() }

// HelloMAC is the proof of a side of the HELLO exchange (role 'D' for the
// dialer, 'L' for the listener), for tests that speak the exchange
// themselves.
func HelloMAC(key [KeySize]byte, role byte, dialerNonce, listenerNonce [32]byte, dialerName, listenerName string) [32]byte {
	return helloMAC(&key, role, &dialerNonce, &listenerNonce, dialerName, listenerName)
}
