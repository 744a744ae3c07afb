package payload

import (
	"errors"
	"testing"
)

func TestFillCheck(t *testing.T) {
	for _, n := range []int{MinSize, 1000, 1 << 20} {
		p := make([]byte, n)
		sum := Fill(p)
		Stamp(p, sum, 7)
		seq, err := Check(p)
		if err != nil || seq != 7 {
			t.Fatalf("size %d: Check = %d, %v; want 7, nil", n, seq, err)
		}
		// The body depends on the size: another size's body differs.
		q := make([]byte, n+8)
		Fill(q)
		if string(q[HeaderSize:HeaderSize+8]) == string(p[HeaderSize:HeaderSize+8]) {
			t.Errorf("size %d and %d start their bodies alike", n, n+8)
		}
	}
}

func TestCheckRefuses(t *testing.T) {
	good := make([]byte, 4096)
	sum := Fill(good)
	Stamp(good, sum, 3)
	cases := map[string]func(p []byte) []byte{
		"flipped body byte":  func(p []byte) []byte { p[4000] ^= 1; return p },
		"flipped header sum": func(p []byte) []byte { p[30] ^= 1; return p },
		"flipped tail byte":  func(p []byte) []byte { p[len(p)-1] ^= 0x80; return p },
		"two words swapped": func(p []byte) []byte {
			var w [8]byte
			copy(w[:], p[64:72])
			copy(p[64:72], p[72:80])
			copy(p[72:80], w[:])
			return p
		},
		"lanes swapped": func(p []byte) []byte {
			var w [8]byte
			copy(w[:], p[64:72])
			copy(p[64:72], p[96:104])
			copy(p[96:104], w[:])
			return p
		},
		"short":               func(p []byte) []byte { return p[:4000] },
		"cleared (stale)":     func(p []byte) []byte { Clear(p); return p },
		"cleared body only":   func(p []byte) []byte { Clear(p[HeaderSize:]); return p },
		"shorter than header": func(p []byte) []byte { return p[:10] },
	}
	for name, corrupt := range cases {
		p := corrupt(append([]byte(nil), good...))
		if _, err := Check(p); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Check = %v, want ErrCorrupt", name, err)
		}
	}
}

// TestSumEveryWord: a change of any one byte of a body, anywhere (the
// tail included), changes the sum.
func TestSumEveryWord(t *testing.T) {
	b := make([]byte, 1000+5)
	Fill(append(make([]byte, HeaderSize), b...))
	want := Sum(b)
	for i := range b {
		b[i] ^= 0x01
		if Sum(b) == want {
			t.Fatalf("flipping byte %d leaves the sum", i)
		}
		b[i] ^= 0x01
	}
	if Sum(b[:len(b)-1]) == Sum(append(b[:len(b)-1:len(b)-1], 0)) {
		t.Error("a trailing zero byte leaves the sum: the length is not in it")
	}
}

func BenchmarkSum(b *testing.B) {
	p := make([]byte, 16<<20)
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		Sum(p)
	}
}
