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
	HelloVersion = 4 // 1 byte: the authentication protocol's version (AuthVersion)
	HelloNonce   = 5 // 32 bytes: the sender's fresh random nonce
	HelloName    = 6 // 1 to MaxNameLen bytes of [A-Za-z0-9._-]: the sender's node name
	HelloMAC     = 7 // 32 bytes: the sender's proof, an HMAC-SHA256 (PROTOCOL.md "Authentication")
	HelloRefuse  = 8 // 1 byte, 1: the dialer found the listener's proof bad and closes
	// HelloDirectory is 1 byte, DirectoryVersion: the sender speaks the
	// cluster directory (DIRECTORY frames), chain depths in DATA frames'
	// status, and FlagHops.
	HelloDirectory = 9
)

// AuthVersion is the version of the HELLO authentication this package
// speaks; a HELLO with another is refused as an unknown version.
const AuthVersion = 1

// NonceSize and MACSize are the lengths of the HelloNonce and HelloMAC
// options.
const (
	NonceSize = 32
	MACSize   = 32
)

// Hello is the content of a HELLO frame's payload.
type Hello struct {
	Host    [16]byte // the sender's host identity, if HasHost
	HasHost bool
	MapID   uint32 // 0: the sender has no sockmap on
	Cookie  uint64 // 0: the sender's socket is not in the map

	Version  uint8 // the authentication's version; 0: the HELLO has none (no authentication)
	Nonce    [NonceSize]byte
	HasNonce bool
	Name     string // the sender's node name; "" if absent
	MAC      [MACSize]byte
	HasMAC   bool
	Refuse   bool // the sender refuses the other end's proof

	Directory uint8 // the directory version the sender speaks; 0: none
	Shm       bool  // the listener takes DATA frames with FlagShm (HelloShm)
	// Trace is the trace context version the sender speaks (HelloTrace):
	// a listener takes DATA frames with FlagTrace, a dialer can send them;
	// 0: none.
	Trace uint8
}

// Append appends h's encoding to b: the options h has, in type order. The
// result is at most 18+6+10+3+34+66+34+3+3+3+3 = 183 bytes, under
// MaxHelloPayload; a Name that is not a valid name (ValidName) is left
// out.
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
	if h.Version != 0 {
		b = append(b, HelloVersion, 1, h.Version)
	}
	if h.HasNonce {
		b = append(b, HelloNonce, NonceSize)
		b = append(b, h.Nonce[:]...)
	}
	if n := len(h.Name); n > 0 && n <= MaxNameLen && ValidName([]byte(h.Name)) {
		b = append(b, HelloName, byte(n))
		b = append(b, h.Name...)
	}
	if h.HasMAC {
		b = append(b, HelloMAC, MACSize)
		b = append(b, h.MAC[:]...)
	}
	if h.Refuse {
		b = append(b, HelloRefuse, 1, 1)
	}
	if h.Directory != 0 {
		b = append(b, HelloDirectory, 1, h.Directory)
	}
	if h.Shm {
		b = append(b, HelloShm, 1, 1)
	}
	if h.Trace != 0 {
		b = append(b, HelloTrace, 1, h.Trace)
	}
	return b
}

// ParseHello decodes a HELLO payload. Options of unknown types are
// skipped; an option of a known type with the wrong length or twice, a
// name that is not valid, version 0, or an option cut short is a
// *FrameError (a bad frame). It checks no more than the encoding: which
// options a HELLO must have is the exchange's business.
func ParseHello(b []byte) (Hello, error) {
	var h Hello
	var have uint // the known options seen, by bit
	for len(b) > 0 {
		if len(b) < 2 || len(b) < 2+int(b[1]) {
			return Hello{}, &FrameError{Field: "payload", Reason: "HELLO option cut short"}
		}
		typ, v := b[0], b[2:2+int(b[1])]
		b = b[2+len(v):]
		if want := helloOptionLen(typ); want != 0 && len(v) != want {
			return Hello{}, &FrameError{Field: "payload", Reason: fmt.Sprintf("HELLO option %d of %d bytes, want %d", typ, len(v), want)}
		}
		if seen := uint(1) << typ; typ < helloKnown {
			if have&seen != 0 {
				return Hello{}, &FrameError{Field: "payload", Reason: fmt.Sprintf("HELLO option %d twice", typ)}
			}
			have |= seen
		}
		switch typ {
		case HelloHost:
			copy(h.Host[:], v)
			h.HasHost = true
		case HelloSockmap:
			h.MapID = binary.LittleEndian.Uint32(v)
		case HelloCookie:
			h.Cookie = binary.LittleEndian.Uint64(v)
		case HelloVersion:
			if v[0] == 0 {
				return Hello{}, &FrameError{Field: "payload", Reason: "HELLO version 0"}
			}
			h.Version = v[0]
		case HelloNonce:
			copy(h.Nonce[:], v)
			h.HasNonce = true
		case HelloName:
			if len(v) == 0 || len(v) > MaxNameLen || !ValidName(v) {
				return Hello{}, &FrameError{Field: "payload", Reason: "HELLO name is not a valid name"}
			}
			h.Name = string(v)
		case HelloMAC:
			copy(h.MAC[:], v)
			h.HasMAC = true
		case HelloRefuse:
			if v[0] != 1 {
				return Hello{}, &FrameError{Field: "payload", Reason: fmt.Sprintf("HELLO refusal %d, want 1", v[0])}
			}
			h.Refuse = true
		case HelloDirectory:
			if v[0] == 0 {
				return Hello{}, &FrameError{Field: "payload", Reason: "HELLO directory version 0"}
			}
			h.Directory = v[0]
		case HelloShm:
			if v[0] != 1 {
				return Hello{}, &FrameError{Field: "payload", Reason: fmt.Sprintf("HELLO shm %d, want 1", v[0])}
			}
			h.Shm = true
		case HelloTrace:
			if v[0] == 0 {
				return Hello{}, &FrameError{Field: "payload", Reason: "HELLO trace version 0"}
			}
			h.Trace = v[0]
		}
	}
	return h, nil
}

// helloKnown is one more than the highest option type this package knows.
const helloKnown = HelloTrace + 1

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
	case HelloVersion:
		return 1
	case HelloNonce:
		return NonceSize
	case HelloMAC:
		return MACSize
	case HelloRefuse, HelloDirectory, HelloShm, HelloTrace:
		return 1
	}
	return 0 // unknown, or HelloName (of variable length)
}
