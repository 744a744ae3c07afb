package bytesize

import (
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"0B", 0},
		{"1", 1},
		{"1048576", 1 << 20},
		{"007", 7},
		{"12B", 12},
		{"12 B", 12},
		{"1KiB", 1 << 10},
		{"64MiB", 64 << 20},
		{"64 MiB", 64 << 20},
		{"3GiB", 3 << 30},
		{"2TiB", 2 << 40},
		{"1kB", 1000},
		{"1KB", 1000},
		{"500MB", 500e6},
		{"2GB", 2e9},
		{"7TB", 7e12},
		{"1.5MiB", 3 << 19},
		{"0.5KiB", 512},
		{"1.25 GB", 1.25e9},
		{"1.000KiB", 1024},
		{"2.0", 2},
		{"0.001kB", 1},
		{"8388607TiB", 8388607 << 40},
		{"9223372036854775807", math.MaxInt64},
		{"9223372036854775807B", math.MaxInt64},
	} {
		got, err := Parse(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ in, msg string }{
		{"", "empty"},
		{"-1", "no sign"},
		{"-1MiB", "no sign"},
		{"+5", "no sign"},
		{" 1MiB", "blank before the number"},
		{"1MiB ", "blanks"},
		{"1  MiB", "blanks"},
		{"1 ", "blanks"},
		{"MiB", "no number"},
		{".5MiB", `".5" is not a number`},
		{"1.MiB", `"1." is not a number`},
		{"1.2.3MiB", "not a number"},
		{"1.3KiB", "not a whole number of bytes"},
		{"1.5", "not a whole number of bytes"},
		{"0.0001kB", "not a whole number of bytes"},
		{"1mib", "case-sensitive: write MiB"},
		{"1mb", "case-sensitive: write MB"},
		{"1Kib", "case-sensitive: write KiB"},
		{"1M", `"M" is ambiguous: write MiB (powers of 1024) or MB`},
		{"1k", `write KiB (powers of 1024) or kB`},
		{"1Gi", "write GiB"},
		{"1PiB", `unknown unit "PiB"`},
		{"12XB", `unknown unit "XB"`},
		{"12 parsecs", `unknown unit "parsecs"`},
		{"1e6", `unknown unit "e6"`},
		{"0x100", `unknown unit "x100"`},
		{"1_000", `unknown unit "_000"`},
		{"1,000", `unknown unit ",000"`},
		{"9223372036854775808", "too large"},
		{"8388608TiB", "too large"},
		{"99999999999999999999999999TB", "too large"},
		{"10000000TB", "too large"},
	} {
		got, err := Parse(tc.in)
		if err == nil {
			t.Errorf("Parse(%q) = %d, want an error", tc.in, got)
			continue
		}
		if !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), `"`+tc.in+`"`) {
			t.Errorf("Parse(%q): %v; want it to quote the input and say %q", tc.in, err, tc.msg)
		}
	}
}

func TestFormat(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0B", 1: "1B", 1000: "1kB", 1001: "1001B", 1024: "1KiB", 1536: "1536B", 64 << 20: "64MiB",
		500e6: "500MB", 1 << 30: "1GiB", 1e12: "1TB", 3 << 40: "3TiB", 1024000: "1000KiB", -5: "-5B",
	} {
		if got := Format(n); got != want {
			t.Errorf("Format(%d) = %q, want %q", n, got, want)
		}
	}
}

// FuzzRoundTrip: Parse(Format(n)) == n for every n ≥ 0, and whatever
// Parse accepts formats to a string it parses to the same size.
func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{"0", "1", "64MiB", "1.5GiB", "500 MB", "1kB", "8388607TiB", "1.000001MB", "junk"} {
		f.Add(s, int64(len(s))<<20)
	}
	f.Add("", int64(math.MaxInt64))
	f.Fuzz(func(t *testing.T, s string, n int64) {
		if n >= 0 {
			got, err := Parse(Format(n))
			if err != nil || got != n {
				t.Fatalf("Parse(Format(%d) = %q) = %d, %v", n, Format(n), got, err)
			}
		}
		v, err := Parse(s)
		if err != nil {
			if !strings.Contains(err.Error(), strconv.Quote(s)) {
				t.Fatalf("Parse(%q): %v does not quote the input", s, err)
			}
			return
		}
		if v < 0 {
			t.Fatalf("Parse(%q) = %d < 0", s, v)
		}
		if back, err := Parse(Format(v)); err != nil || back != v {
			t.Fatalf("Parse(%q) = %d, but Parse(Format(%d) = %q) = %d, %v", s, v, v, Format(v), back, err)
		}
	})
}
