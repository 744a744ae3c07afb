package transport

// KeepZeroCopy makes p's connections keep sending with SEND_ZC even when
// the kernel reports it copied (loopback does, always), so that a test can
// run many zero-copy transfers on one connection.
func KeepZeroCopy(p *Peer) { p.keepZeroCopy = true }

// ZeroCopySends is how many SEND_ZC requests of p's transfers have
// completed with their notification.
func ZeroCopySends(p *Peer) int64 { return p.zcSends.Load() }

// HelloOptions encodes a HELLO payload (tests of the codec).
func HelloOptions(host []byte, mapID uint32, cookie uint64) []byte {
	h := hello{mapID: mapID, cookie: cookie}
	if host != nil {
		copy(h.host[:], host)
		h.hasHost = true
	}
	return h.append(nil)
}

// ParseHello decodes a HELLO payload (tests of the codec).
func ParseHello(b []byte) (host []byte, mapID uint32, cookie uint64, err error) {
	h, err := parseHello(b)
	if h.hasHost {
		host = h.host[:]
	}
	return host, h.mapID, h.cookie, err
}
