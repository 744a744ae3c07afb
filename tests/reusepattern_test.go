package tests

import (
	"strings"
	"testing"

	reusepat "github.com/roadrunner-wasm/roadrunner/tests/testdata/pattern"
)

// The payloads of the buffer-reuse test (tests/testdata/pattern; the go
// tool runs no tests under testdata, so they are here): the sizes are the
// mix the test promises, and Check catches a flipped byte and the
// overwrite the sender does after each send.
func TestReusePatternSizes(t *testing.T) {
	var big, mid, small int
	for i := range reuseRuns {
		n := reusepat.Size(i)
		switch {
		case n < reusepat.PrefixSize || n > reusepat.MaxSize:
			t.Fatalf("Size(%d) = %d", i, n)
		case n == reusepat.MaxSize:
			big++
		case n > 1<<20:
			mid++
		default:
			small++
			if n%2 == 0 || n > 64<<10 {
				t.Fatalf("Size(%d) = %d, want odd and at most 64 KiB", i, n)
			}
		}
	}
	if big != 10 || mid != 90 || small != 900 {
		t.Fatalf("1000 sizes: %d of 64 MiB, %d of ~1 MiB, %d small", big, mid, small)
	}
}

func TestReusePatternCheck(t *testing.T) {
	for _, n := range []int{reusepat.PrefixSize, reusepat.PrefixSize + 1, reusepat.PrefixSize + 7, reusepat.PrefixSize + 8, 1<<20 + 5} {
		b := make([]byte, n)
		reusepat.Fill(b, 42, 7)
		if seed, i, err := reusepat.Check(b); err != nil || seed != 42 || i != 7 {
			t.Fatalf("%d bytes: Check: %d, %d, %v", n, seed, i, err)
		}
		for _, off := range []int{0, 4, 8, min(reusepat.PrefixSize, n-1), n - 1} {
			c := append([]byte(nil), b...)
			c[off] ^= 0x20
			// A flip in the prefix may make another valid transfer of
			// the same size: the receiver sees another seed or index.
			if seed, i, err := reusepat.Check(c); err == nil && seed == 42 && i == 7 {
				t.Fatalf("%d bytes: a flip at %d passed", n, off)
			}
		}
		reusepat.Invert(b)
		if _, _, err := reusepat.Check(b); err == nil {
			t.Fatalf("%d bytes: the inverted payload passed", n)
		}
	}
	a, b := make([]byte, 64), make([]byte, 64)
	reusepat.Fill(a, 1, 2)
	reusepat.Fill(b, 1, 3)
	if string(a[reusepat.PrefixSize:]) == string(b[reusepat.PrefixSize:]) {
		t.Fatal("two transfers share their bytes")
	}
	if _, _, err := reusepat.Check(a[:reusepat.PrefixSize-1]); err == nil || !strings.Contains(err.Error(), "prefix") {
		t.Fatalf("short payload: %v", err)
	}
}
