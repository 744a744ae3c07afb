package wire

import (
	"encoding/binary"
	"fmt"
)

// Option types of a HELLO payload. The payload is a list of options, each
// type (1 byte), length (1 byte), value (length bytes); a receiver skips
// types it does not know, so that later options can join. docs/PROTOCOL.md
// "HELLO" is the reference.
const (
	HelloHost    = 1 // 16 bytes: the sender's host, /proc/sys/kernel/random/boot_id
	HelloSockmap = 2 // 4 bytes, little endian: the sender's SOCKHASH map id (its sockmap is on)
	HelloCookie  = 3 // 8 bytes, little endian: the socket cookie of the listener's end, in that map
)

// Hello is the content of a HELLO frame's payload.
type Hello struct {
	Host    [16]byte // the sender's host identity, if HasHost
	HasHost bool
	MapID   uint32 // 0: the sender has no sockmap on
	Cookie  uint64 // 0: the sender's socket is not in the map
}

// Append appends h's encoding to b: the options h has, in type order. The
// result is at most 36 bytes, well under MaxHelloPayload.
func (h *Hello) Append(b []byte) []byte {
	if h.HasHost {
		b = append(b, HelloHost, 16)
		b = append(b, h.Host[:]...)
	}
	if h.MapID != 0 {
		b = append(b, HelloSockmap, 4)
		b = binary.LittleEndian.AppendUint32(b, h.MapID)
	}
	if h.Cookie != 0 {
		b = append(b, HelloCookie, 8)
		b = binary.LittleEndian.AppendUint64(b, h.Cookie)
	}
	return b
}

// ParseHello decodes a HELLO payload. Options of unknown types are
// skipped; an option of a known type with the wrong length, or one cut
// short, is a *FrameError (a bad frame).
func ParseHello(b []byte) (Hello, error) {
	var h Hello
	for len(b) > 0 {
		if len(b) < 2 || len(b) < 2+int(b[1]) {
			return Hello{}, &FrameError{Field: "payload", Reason: "HELLO option cut short"}
		}
		typ, v := b[0], b[2:2+int(b[1])]
		b = b[2+len(v):]
		if want := helloOptionLen(typ); want != 0 && len(v) != want {
			return Hello{}, &FrameError{Field: "payload", Reason: fmt.Sprintf("HELLO option %d of %d bytes, want %d", typ, len(v), want)}
		}
		switch typ {
		case HelloHost:
			copy(h.Host[:], v)
			h.HasHost = true
		case HelloSockmap:
			h.MapID = binary.LittleEndian.Uint32(v)
		case HelloCookie:
			h.Cookie = binary.LittleEndian.Uint64(v)
		}
	}
	return h, nil
}

// helloOptionLen is the length of a known option type's value, 0 for an
// unknown type.
func helloOptionLen(typ byte) int {
	switch typ {
	case HelloHost:
		return 16
	case HelloSockmap:
		return 4
	case HelloCookie:
		return 8
	}
	return 0
}
