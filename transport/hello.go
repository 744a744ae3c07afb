package transport

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
)

// HELLO payload: a list of options, each type (1 byte), length (1 byte),
// value (length bytes); a receiver skips types it does not know, so that
// later options (the pre-shared key's challenge) can join. PROTOCOL.md
// "HELLO" is the reference.
const (
	helloHost    = 1 // 16 bytes: the sender's host, /proc/sys/kernel/random/boot_id
	helloSockmap = 2 // 4 bytes, little endian: the sender's SOCKHASH map id (its sockmap is on)
	helloCookie  = 3 // 8 bytes, little endian: the socket cookie of the listener's end, in that map
)

// hello is the content of a HELLO frame.
type hello struct {
	host    [16]byte
	hasHost bool
	mapID   uint32 // 0: the sender has no sockmap on
	cookie  uint64 // 0: the sender's socket is not in the map
}

func (h *hello) append(b []byte) []byte {
	if h.hasHost {
		b = append(b, helloHost, 16)
		b = append(b, h.host[:]...)
	}
	if h.mapID != 0 {
		b = append(b, helloSockmap, 4)
		b = binary.LittleEndian.AppendUint32(b, h.mapID)
	}
	if h.cookie != 0 {
		b = append(b, helloCookie, 8)
		b = binary.LittleEndian.AppendUint64(b, h.cookie)
	}
	return b
}

// parseHello decodes a HELLO payload. An option of a known type with the
// wrong length, or one cut short, is a bad frame.
func parseHello(b []byte) (hello, error) {
	var h hello
	for len(b) > 0 {
		if len(b) < 2 || len(b) < 2+int(b[1]) {
			return hello{}, &FrameError{Field: "payload", Reason: "HELLO option cut short"}
		}
		typ, v := b[0], b[2:2+int(b[1])]
		b = b[2+len(v):]
		if want := helloOptionLen(typ); want != 0 && len(v) != want {
			return hello{}, &FrameError{Field: "payload", Reason: fmt.Sprintf("HELLO option %d of %d bytes, want %d", typ, len(v), want)}
		}
		switch typ {
		case helloHost:
			copy(h.host[:], v)
			h.hasHost = true
		case helloSockmap:
			h.mapID = binary.LittleEndian.Uint32(v)
		case helloCookie:
			h.cookie = binary.LittleEndian.Uint64(v)
		}
	}
	return h, nil
}

// helloOptionLen is the length of a known option type's value, 0 for an
// unknown type.
func helloOptionLen(typ byte) int {
	switch typ {
	case helloHost:
		return 16
	case helloSockmap:
		return 4
	case helloCookie:
		return 8
	}
	return 0
}

// sameHost reports whether a peer that said h runs on this host: both
// know their boot id and it is the same. The boot id is the kernel's, the
// same in every network namespace and container of the host; addresses
// are not (each namespace has its own).
func (h *hello) sameHost() bool {
	id, err := HostID()
	return err == nil && h.hasHost && h.host == id
}

// HostID returns this host's identity as the HELLO exchange carries it:
// the kernel's boot id (/proc/sys/kernel/random/boot_id), random at each
// boot and the same for every process, network namespace and container
// of the host.
func HostID() ([16]byte, error) { return hostID() }

var hostID = sync.OnceValues(func() ([16]byte, error) {
	var id [16]byte
	const path = "/proc/sys/kernel/random/boot_id"
	b, err := os.ReadFile(path)
	if err != nil {
		return id, fmt.Errorf("host id: %w", err)
	}
	s := strings.ReplaceAll(strings.TrimSpace(string(b)), "-", "")
	if n, err := hex.Decode(id[:], []byte(s)); err != nil || n != 16 || len(s) != 32 {
		return id, fmt.Errorf("host id: %s: %q is not a UUID", path, b)
	}
	return id, nil
})
