package payload

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// HeaderSize is the length of a payload's header; MinSize the smallest
// payload the benchmark moves.
const (
	HeaderSize = 32
	MinSize    = 64
)

// Magic starts every benchmark payload.
const Magic = "RRBD"

// Sum is the body's checksum: four lanes of h = (h ^ word) * k over the
// body's little-endian 64-bit words (a tail of fewer than 8 bytes padded
// with zeros), lanes combined at the end. Each step is a bijection of h for
// a given word and of the word for a given h (k is odd), so a change of any
// one word always changes its lane and so the sum; changes in several
// words collide with a probability of about 2^-64. It runs at several GB/s
// in a Wasm guest, where CRC32C has no instruction and ran at 0.4 GB/s,
// ten times the memory path's transfer: verifying every delivery must not
// swamp what it verifies (see docs/RATIONALE.md).
func Sum(b []byte) uint64 {
	const k = 0x9e3779b97f4a7c15
	h0, h1, h2, h3 := uint64(1), uint64(2), uint64(3), uint64(4)
	i := 0
	for ; i+32 <= len(b); i += 32 {
		w := b[i : i+32 : i+32]
		h0 = (h0 ^ binary.LittleEndian.Uint64(w[0:])) * k
		h1 = (h1 ^ binary.LittleEndian.Uint64(w[8:])) * k
		h2 = (h2 ^ binary.LittleEndian.Uint64(w[16:])) * k
		h3 = (h3 ^ binary.LittleEndian.Uint64(w[24:])) * k
	}
	var tail [32]byte
	copy(tail[:], b[i:])
	if i < len(b) {
		h0 = (h0 ^ binary.LittleEndian.Uint64(tail[0:])) * k
		h1 = (h1 ^ binary.LittleEndian.Uint64(tail[8:])) * k
		h2 = (h2 ^ binary.LittleEndian.Uint64(tail[16:])) * k
		h3 = (h3 ^ binary.LittleEndian.Uint64(tail[24:])) * k
	}
	return (h0 ^ bits.RotateLeft64(h1, 16) ^ bits.RotateLeft64(h2, 32) ^ bits.RotateLeft64(h3, 48) ^ uint64(len(b))) * k
}

// Fill writes the body of a payload of len(p) bytes into p[HeaderSize:]
// (a splitmix64 stream seeded by the size), writes a header with sequence
// number 0, and returns the body's Sum. len(p) must be at least MinSize.
func Fill(p []byte) uint64 {
	body := p[HeaderSize:]
	s := uint64(len(p))
	var w [8]byte
	for i := 0; i < len(body); i += 8 {
		s += 0x9e3779b97f4a7c15
		z := s
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		binary.LittleEndian.PutUint64(w[:], z^z>>31)
		copy(body[i:], w[:])
	}
	sum := Sum(body)
	Stamp(p, sum, 0)
	return sum
}

// Stamp writes the header of p: seq, len(p) and the body's sum.
func Stamp(p []byte, sum uint64, seq uint64) {
	copy(p[0:4], Magic)
	binary.LittleEndian.PutUint32(p[4:], 0)
	binary.LittleEndian.PutUint64(p[8:], seq)
	binary.LittleEndian.PutUint64(p[16:], uint64(len(p)))
	binary.LittleEndian.PutUint64(p[24:], sum)
}

// IsPayload reports whether p starts with a payload header.
func IsPayload(p []byte) bool { return len(p) >= HeaderSize && string(p[:4]) == Magic }

// Seq is the sequence number in p's header; p must be a payload.
func Seq(p []byte) uint64 { return binary.LittleEndian.Uint64(p[8:]) }

// ErrCorrupt is wrapped by every verification failure.
var ErrCorrupt = errors.New("payload corrupt")

// Check verifies a received payload: its header, its length against the
// header's, and its body against the header's sum. It returns the sequence
// number.
func Check(p []byte) (seq uint64, err error) {
	if len(p) < HeaderSize {
		return 0, fmt.Errorf("%w: %d bytes, shorter than a header", ErrCorrupt, len(p))
	}
	if string(p[:4]) != Magic {
		return 0, fmt.Errorf("%w: bad magic %q", ErrCorrupt, p[:4])
	}
	seq = binary.LittleEndian.Uint64(p[8:])
	if n := binary.LittleEndian.Uint64(p[16:]); n != uint64(len(p)) {
		return seq, fmt.Errorf("%w: seq %d: %d bytes arrived, header says %d", ErrCorrupt, seq, len(p), n)
	}
	want := binary.LittleEndian.Uint64(p[24:])
	if got := Sum(p[HeaderSize:]); got != want {
		return seq, fmt.Errorf("%w: seq %d: body sum %016x, header says %016x", ErrCorrupt, seq, got, want)
	}
	return seq, nil
}

// Clear zeroes p, so that the next payload received into the same buffer
// must arrive whole to pass Check.
func Clear(p []byte) { clear(p) }
