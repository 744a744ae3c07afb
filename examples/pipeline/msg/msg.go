package msg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
)

// HeaderSize is the size of the header that precedes the body.
const HeaderSize = 16

// Magic is the first four bytes of every message, "RRP1", read as a
// little-endian uint32.
const Magic uint32 = 'R' | 'R'<<8 | 'P'<<16 | '1'<<24

// Flags are the header's flag bits.
type Flags uint16

// FlagTransformed says the body is scrambled (see [Scramble]).
const FlagTransformed Flags = 1 << 0

const knownFlags = FlagTransformed

// MaxBody is the largest body a header can describe.
const MaxBody = 1<<32 - 1 - HeaderSize

// Header is a decoded message header.
type Header struct {
	Flags Flags
	Hops  uint16 // guest-to-guest sends the message has made, the one carrying it included
	Len   uint32 // body length in bytes
	CRC   uint32 // CRC32C of the original (unscrambled) body
}

// Errors of [Decode] and [Verify]; test for them with errors.Is.
var (
	// ErrTruncated: the message is shorter than its header says.
	ErrTruncated = errors.New("message truncated")
	// ErrCorrupt: a bad magic, unknown flags, bytes beyond the body, or a
	// body whose CRC32C differs from the header's.
	ErrCorrupt = errors.New("message corrupt")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum returns the CRC32C (Castagnoli) of b.
func Checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// Put writes h into m[:HeaderSize]. It panics if m is shorter.
func (h Header) Put(m []byte) {
	_ = m[HeaderSize-1]
	binary.LittleEndian.PutUint32(m[0:], Magic)
	binary.LittleEndian.PutUint16(m[4:], uint16(h.Flags))
	binary.LittleEndian.PutUint16(m[6:], h.Hops)
	binary.LittleEndian.PutUint32(m[8:], h.Len)
	binary.LittleEndian.PutUint32(m[12:], h.CRC)
}

// Append appends to dst a message carrying body, ready to be sent: a header
// with no flags, hops 1 (the send about to carry it) and the CRC32C of body,
// then body. Pass a reused buffer as
// dst[:0] to build messages without allocating once it is large enough.
// It panics if body is longer than [MaxBody].
func Append(dst, body []byte) []byte {
	if uint64(len(body)) > MaxBody {
		panic("msg: body too long")
	}
	n := len(dst)
	dst = slices.Grow(dst, HeaderSize+len(body))[:n+HeaderSize]
	Header{Hops: 1, Len: uint32(len(body)), CRC: Checksum(body)}.Put(dst[n:])
	return append(dst, body...)
}

// Decode parses the header of m and returns it with the body, a view of m
// (not a copy). It checks the magic, the flags and that m holds exactly the
// body the header describes; it does not check the CRC (see [Verify]).
func Decode(m []byte) (Header, []byte, error) {
	if len(m) < HeaderSize {
		return Header{}, nil, fmt.Errorf("%w: %d bytes, header needs %d", ErrTruncated, len(m), HeaderSize)
	}
	if magic := binary.LittleEndian.Uint32(m[0:]); magic != Magic {
		return Header{}, nil, fmt.Errorf("%w: magic %#08x, want %#08x", ErrCorrupt, magic, Magic)
	}
	h := Header{
		Flags: Flags(binary.LittleEndian.Uint16(m[4:])),
		Hops:  binary.LittleEndian.Uint16(m[6:]),
		Len:   binary.LittleEndian.Uint32(m[8:]),
		CRC:   binary.LittleEndian.Uint32(m[12:]),
	}
	if h.Flags&^knownFlags != 0 {
		return h, nil, fmt.Errorf("%w: unknown flags %#04x", ErrCorrupt, uint16(h.Flags))
	}
	body := m[HeaderSize:]
	switch {
	case uint64(len(body)) < uint64(h.Len):
		return h, nil, fmt.Errorf("%w: body has %d of %d bytes", ErrTruncated, len(body), h.Len)
	case uint64(len(body)) > uint64(h.Len):
		return h, nil, fmt.Errorf("%w: %d bytes after a %d-byte body", ErrCorrupt, uint64(len(body))-uint64(h.Len), h.Len)
	}
	return h, body, nil
}

// Verify checks that body, unscrambled, has the CRC32C the header h carries.
// It fails on a scrambled body: undo [Scramble] first.
func Verify(h Header, body []byte) error {
	if h.Flags&FlagTransformed != 0 {
		return fmt.Errorf("%w: body is still transformed", ErrCorrupt)
	}
	if got := Checksum(body); got != h.CRC {
		return fmt.Errorf("%w: body crc32c %#08x, header says %#08x", ErrCorrupt, got, h.CRC)
	}
	return nil
}

// Scramble XORs body in place with a keystream (splitmix64) seeded by seed;
// the pipeline seeds it with the header's CRC. It is its own inverse:
// scrambling twice with the same seed restores the body.
func Scramble(seed uint32, body []byte) {
	s := uint64(seed)
	for len(body) >= 8 {
		k := splitmix(&s)
		binary.LittleEndian.PutUint64(body, binary.LittleEndian.Uint64(body)^k)
		body = body[8:]
	}
	if len(body) > 0 {
		k := splitmix(&s)
		for i := range body {
			body[i] ^= byte(k >> (8 * i))
		}
	}
}

func splitmix(s *uint64) uint64 {
	*s += 0x9e3779b97f4a7c15
	z := *s
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}
