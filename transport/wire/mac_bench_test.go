package wire_test

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/zeebo/blake3"
	"golang.org/x/crypto/blake2b"

	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

// BenchmarkFrameMAC measures what a MAC on every frame would cost, against
// the CRC32C frames may already carry and a plain copy of the payload (what
// the memory path costs), for the decision in docs/RATIONALE.md, "No
// per-frame MAC on plaintext tcp (issue 16)"; the numbers are there:
//
//	go test -run '^$' -bench FrameMAC -count 6 -benchtime 2s ./transport/wire/
//
// One op is one frame: a MAC over its header, name and payload, written
// as a sender has them (the header and name in one buffer, the payload in
// another: two Writes, no gathering copy), with a fixed key and a hasher
// reused through Reset, so the steady state allocates nothing. SIZE header
// is the fixed cost per frame: the MAC of the 32-byte header alone. The
// CRC and the copy read the payload only, as the frame's CRC does (the
// header case: the header). Bytes per op are the payload's (the header's).
//
// aes128-gcm is a reference, not a candidate: the AEAD a TLS 1.3 record
// would most likely use here (AES-NI and PCLMULQDQ), sealing the payload
// with the header and name as additional data, so encrypting as well, in
// one Seal per frame where TLS seals records of at most 16 KiB. It reuses
// one nonce, which only a benchmark may do.
//
// blake3 is github.com/zeebo/blake3: AVX2 over eight chunks and SSE4.1
// for single compressions on amd64, on the calling goroutine.
// lukechampine.com/blake3 has AVX-512 but spreads a large Write over
// goroutines and allocates per Write, which is neither one core's cost nor
// a steady state that allocates nothing.
func BenchmarkFrameMAC(b *testing.B) {
	key := make([]byte, 32)
	fill(key, 1)
	macs := []struct {
		name string
		new  func() hash.Hash
	}{
		{"hmac-sha256", func() hash.Hash { return hmac.New(sha256.New, key) }},
		{"blake2b-256", func() hash.Hash {
			h, err := blake2b.New256(key)
			if err != nil {
				b.Fatal(err)
			}
			return h
		}},
		{"blake3", func() hash.Hash {
			h, err := blake3.NewKeyed(key)
			if err != nil {
				b.Fatal(err)
			}
			return h
		}},
	}
	sizes := []struct {
		name string
		n    int // payload bytes; -1: the header alone
	}{
		{"header", -1},
		{"1KiB", 1 << 10},
		{"64KiB", 64 << 10},
		{"64MiB", 64 << 20},
	}
	name := []byte("consumer")
	for _, sz := range sizes {
		b.Run(sz.name, func(b *testing.B) {
			src, dst := macBuffers()
			// head is the header and the name, in one buffer as a sender
			// builds them; the payload is apart, as guest memory is.
			payload := src[:max(sz.n, 0)]
			h := wire.Header{Kind: wire.KindData, NameLen: uint16(len(name)), PayloadLen: uint64(len(payload)), ID: 7}
			head := append(wire.AppendHeader(nil, &h), name...)
			// covered is what the CRC and the copy read.
			covered, n := payload, int64(len(payload))
			if sz.n < 0 {
				head = head[:wire.HeaderSize]
				covered, n = head, wire.HeaderSize
			}
			for _, m := range macs {
				b.Run(m.name, func(b *testing.B) {
					mac := m.new()
					sum := make([]byte, 0, mac.Size())
					mac.Reset() // an HMAC's first Reset saves its keyed states: not per frame
					b.SetBytes(n)
					b.ReportAllocs()
					for b.Loop() {
						mac.Reset()
						mac.Write(head)
						mac.Write(payload)
						sum = mac.Sum(sum[:0])
					}
				})
			}
			b.Run("aes128-gcm", func(b *testing.B) {
				aead := newGCM(b, key[:16])
				nonce := make([]byte, aead.NonceSize())
				b.SetBytes(n)
				b.ReportAllocs()
				for b.Loop() {
					aead.Seal(dst[:0], nonce, payload, head)
				}
			})
			b.Run("crc32c", func(b *testing.B) {
				var crc uint32
				b.SetBytes(n)
				b.ReportAllocs()
				for b.Loop() {
					crc ^= wire.Checksum(covered)
				}
				_ = crc
			})
			b.Run("copy", func(b *testing.B) {
				b.SetBytes(n)
				b.ReportAllocs()
				for b.Loop() {
					copy(dst, covered)
				}
			})
		})
	}
}

func newGCM(b *testing.B, key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key)
	if err != nil {
		b.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		b.Fatal(err)
	}
	return aead
}

// macBuffers are a 64 MiB random payload and a destination as large and a
// GCM tag more, both written once, so that no case pays for page faults
// (which cost far more than a copy on these VMs).
var macBuffers = sync.OnceValues(func() (src, dst []byte) {
	src = make([]byte, 64<<20)
	fill(src, 42)
	dst = make([]byte, len(src)+16)
	for i := range dst {
		dst[i] = 0xA5
	}
	return src, dst
})

// fill writes pseudo-random bytes (ChaCha8, seeded) over p.
func fill(p []byte, seed byte) {
	rand.NewChaCha8([32]byte{seed}).Read(p)
}
