package msg

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"testing"
)

// pattern returns n deterministic, non-repeating-looking bytes.
func pattern(n int) []byte {
	b := make([]byte, n)
	s := uint64(n)
	for i := range b {
		s = s*6364136223846793005 + 1442695040888963407
		b[i] = byte(s >> 56)
	}
	return b
}

var sizes = []int{0, 1, 7, 8, 9, 15, 16, 17, 1024, 1<<20 + 3}

// pipeline runs the three guests' steps on the host: producer, transform,
// consumer. It returns the restored body and the header the consumer saw.
func pipeline(t *testing.T, body []byte) ([]byte, Header) {
	t.Helper()
	m := Append(nil, body)

	// transform
	h, b, err := Decode(m)
	if err != nil {
		t.Fatalf("transform: decode: %v", err)
	}
	if err := Verify(h, b); err != nil {
		t.Fatalf("transform: verify: %v", err)
	}
	Scramble(h.CRC, b)
	h.Flags |= FlagTransformed
	h.Hops++
	h.Put(m)

	// consumer
	h, b, err = Decode(m)
	if err != nil {
		t.Fatalf("consumer: decode: %v", err)
	}
	if h.Flags&FlagTransformed == 0 {
		t.Fatal("consumer: not transformed")
	}
	Scramble(h.CRC, b)
	h.Flags &^= FlagTransformed
	if err := Verify(h, b); err != nil {
		t.Fatalf("consumer: verify: %v", err)
	}
	return b, h
}

func TestRoundTrip(t *testing.T) {
	for _, n := range sizes {
		body := pattern(n)
		got, h := pipeline(t, bytes.Clone(body))
		if !bytes.Equal(got, body) {
			t.Fatalf("%d bytes: body changed on the way", n)
		}
		if h.Len != uint32(n) || h.Hops != 2 || h.CRC != crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)) {
			t.Fatalf("%d bytes: header %+v", n, h)
		}
	}
}

func TestHeaderLayout(t *testing.T) {
	m := Append(nil, []byte("abc"))
	want := []byte{
		'R', 'R', 'P', '1',
		0, 0, // flags
		1, 0, // hops
		3, 0, 0, 0, // length
	}
	if !bytes.Equal(m[:12], want) {
		t.Fatalf("header % x, want % x", m[:12], want)
	}
	if got := binary.LittleEndian.Uint32(m[12:]); got != Checksum([]byte("abc")) {
		t.Fatalf("crc %#x", got)
	}
	if string(m[HeaderSize:]) != "abc" {
		t.Fatalf("body %q", m[HeaderSize:])
	}
}

func TestAppendReusesBuffer(t *testing.T) {
	body := pattern(4096)
	buf := Append(nil, body)
	allocs := testing.AllocsPerRun(100, func() {
		buf = Append(buf[:0], body)
	})
	if allocs != 0 {
		t.Fatalf("Append into a large enough buffer allocated %v times", allocs)
	}
}

func TestScrambleChangesEveryWordAndInverts(t *testing.T) {
	for _, n := range sizes {
		body := pattern(n)
		b := bytes.Clone(body)
		Scramble(42, b)
		if n >= 8 && bytes.Equal(b[:8], body[:8]) {
			t.Fatalf("%d bytes: scramble left the first word as is", n)
		}
		Scramble(42, b)
		if !bytes.Equal(b, body) {
			t.Fatalf("%d bytes: scrambling twice did not restore the body", n)
		}
	}
}

func TestDecodeTruncated(t *testing.T) {
	m := Append(nil, pattern(1000))
	for _, n := range []int{0, 1, HeaderSize - 1, HeaderSize, HeaderSize + 999} {
		if _, _, err := Decode(m[:n]); !errors.Is(err, ErrTruncated) {
			t.Errorf("decode of %d of %d bytes: %v, want ErrTruncated", n, len(m), err)
		}
	}
}

func TestDecodeCorrupt(t *testing.T) {
	good := Append(nil, pattern(100))
	for name, mutate := range map[string]func([]byte) []byte{
		"magic":      func(m []byte) []byte { m[0] ^= 1; return m },
		"flags":      func(m []byte) []byte { m[5] = 0x80; return m },
		"extra byte": func(m []byte) []byte { return append(m, 0) },
		"shorter length": func(m []byte) []byte {
			binary.LittleEndian.PutUint32(m[8:], 99)
			return m
		},
	} {
		m := mutate(bytes.Clone(good))
		if _, _, err := Decode(m); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: decode: %v, want ErrCorrupt", name, err)
		}
	}
	// A longer length field is a truncated message.
	m := bytes.Clone(good)
	binary.LittleEndian.PutUint32(m[8:], 101)
	if _, _, err := Decode(m); !errors.Is(err, ErrTruncated) {
		t.Errorf("longer length: decode: %v, want ErrTruncated", err)
	}
}

// Every single-bit flip in the body or the CRC field is caught by Verify,
// before and after a scramble round trip.
func TestVerifyCatchesBitFlips(t *testing.T) {
	good := Append(nil, pattern(64))
	for bit := 12 * 8; bit < len(good)*8; bit++ {
		m := bytes.Clone(good)
		m[bit/8] ^= 1 << (bit % 8)
		h, b, err := Decode(m)
		if err != nil {
			t.Fatalf("bit %d: decode: %v", bit, err)
		}
		if err := Verify(h, b); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("bit %d: verify: %v, want ErrCorrupt", bit, err)
		}
	}

	// Corruption of a scrambled body in transit.
	m := bytes.Clone(good)
	h, b, _ := Decode(m)
	Scramble(h.CRC, b)
	b[10] ^= 4
	Scramble(h.CRC, b)
	if err := Verify(h, b); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("scrambled flip: verify: %v, want ErrCorrupt", err)
	}
}

func TestVerifyRefusesTransformed(t *testing.T) {
	h, b, _ := Decode(Append(nil, pattern(10)))
	h.Flags |= FlagTransformed
	if err := Verify(h, b); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("verify of a transformed body: %v, want ErrCorrupt", err)
	}
}

func TestReportJSON(t *testing.T) {
	for _, r := range []Report{
		{Function: "consumer", Bytes: 1 << 26, CRC32C: FormatCRC(0xdeadbeef), Hops: 2, Verified: true},
		{Function: "consumer", CRC32C: FormatCRC(0), Reason: "message corrupt: \"x\"\\ \n\t\x01 <&> é \xff"},
	} {
		out := r.AppendJSON(nil)
		var got Report
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%s: %v", out, err)
		}
		want := r
		want.Reason = string(bytes.ToValidUTF8([]byte(r.Reason), []byte("\ufffd")))
		if got != want {
			t.Fatalf("%s decoded to %+v, want %+v", out, got, want)
		}
	}
	if s := FormatCRC(0x0badf00d); s != "0x0badf00d" {
		t.Fatalf("FormatCRC: %s", s)
	}
}
