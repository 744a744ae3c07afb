package transport

// KeepZeroCopy makes p's connections keep sending with SEND_ZC even when
// the kernel reports it copied (loopback does, always), so that a test can
// run many zero-copy transfers on one connection.
func KeepZeroCopy(p *Peer) { p.keepZeroCopy = true }

// ZeroCopySends is how many SEND_ZC requests of p's transfers have
// completed with their notification.
func ZeroCopySends(p *Peer) int64 { return p.zcSends.Load() }
