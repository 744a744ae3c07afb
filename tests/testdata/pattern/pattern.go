// Package pattern is the payload of the buffer-reuse test, shared by its
// sending guest (tests/testdata/reuse), its receiving guest
// (tests/testdata/verify) and the test: transfer i of a run seeded with
// seed carries Size(i) bytes, a 16-byte little-endian prefix
//
//	offset 0   seed  u32
//	offset 4   i     u32
//	offset 8   size  u64 (the whole payload, prefix included)
//
// then a keystream (xorshift64) seeded with seed and i, so that the
// receiver can regenerate and check every byte from the prefix alone.
// Pure Go without build tags: the guests and the host test share it.
package pattern

import (
	"encoding/binary"
	"errors"
	"strconv"
)

// PrefixSize is the size of the prefix; every payload has at least this many bytes.
const PrefixSize = 16

// MaxSize is the largest Size.
const MaxSize = 64 << 20

// Size is the payload size of transfer i: every 100th (i%100 == 99)
// MaxSize, every 10th otherwise 1 MiB plus an odd offset under 4 KiB, the
// others odd sizes from PrefixSize+1 to 64 KiB.
func Size(i int) int {
	switch {
	case i%100 == 99:
		return MaxSize
	case i%10 == 9:
		return 1<<20 + (i*37)%4096 | 1
	}
	return PrefixSize + (i*7919)%(64<<10-PrefixSize-1) | 1
}

// Total is the sum of Size(i) for i in [0, n).
func Total(n int) uint64 {
	var t uint64
	for i := range n {
		t += uint64(Size(i))
	}
	return t
}

// Fill writes transfer i of the run seed into b (len(b) >= PrefixSize).
func Fill(b []byte, seed uint32, i int) {
	binary.LittleEndian.PutUint32(b[0:], seed)
	binary.LittleEndian.PutUint32(b[4:], uint32(i))
	binary.LittleEndian.PutUint64(b[8:], uint64(len(b)))
	s := start(seed, uint32(i))
	p := b[PrefixSize:]
	for len(p) >= 8 {
		s = next(s)
		binary.LittleEndian.PutUint64(p, s)
		p = p[8:]
	}
	if len(p) > 0 {
		s = next(s)
		for k := range p {
			p[k] = byte(s >> (8 * k))
		}
	}
}

// Invert overwrites b with its complement: every byte changes.
func Invert(b []byte) {
	for len(b) >= 8 {
		binary.LittleEndian.PutUint64(b, ^binary.LittleEndian.Uint64(b))
		b = b[8:]
	}
	for k := range b {
		b[k] = ^b[k]
	}
}

// Check verifies that b is a payload Fill wrote, and returns its seed and
// index. The error names the first wrong byte.
func Check(b []byte) (seed uint32, i int, err error) {
	if len(b) < PrefixSize {
		return 0, 0, errors.New("pattern: " + strconv.Itoa(len(b)) + " bytes, shorter than the prefix")
	}
	seed = binary.LittleEndian.Uint32(b[0:])
	i = int(binary.LittleEndian.Uint32(b[4:]))
	if size := binary.LittleEndian.Uint64(b[8:]); size != uint64(len(b)) {
		return seed, i, errors.New("pattern: transfer " + strconv.Itoa(i) + ": " + strconv.Itoa(len(b)) + " bytes, prefix says " + strconv.FormatUint(size, 10))
	}
	s := start(seed, uint32(i))
	for off := PrefixSize; off < len(b); off += 8 {
		s = next(s)
		if off+8 <= len(b) {
			if binary.LittleEndian.Uint64(b[off:]) == s {
				continue
			}
		} else {
			ok := true
			for k := range b[off:] {
				ok = ok && b[off+k] == byte(s>>(8*k))
			}
			if ok {
				continue
			}
		}
		return seed, i, errors.New("pattern: transfer " + strconv.Itoa(i) + " of seed " + strconv.FormatUint(uint64(seed), 10) +
			" (" + strconv.Itoa(len(b)) + " bytes): wrong bytes at offset " + strconv.Itoa(off))
	}
	return seed, i, nil
}

func start(seed, i uint32) uint64 {
	z := uint64(seed)<<32 | uint64(i)
	z += 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	z ^= z >> 31
	if z == 0 {
		z = 1 // xorshift's one fixed point
	}
	return z
}

func next(s uint64) uint64 {
	s ^= s << 13
	s ^= s >> 7
	s ^= s << 17
	return s
}
