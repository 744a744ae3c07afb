package bytesize

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Grammar is the grammar in a line, for error messages that say what a
// size should look like.
const Grammar = "an integer number of bytes, or a number and a unit: B, KiB, MiB, GiB, TiB (powers of 1024) or kB, MB, GB, TB (powers of 1000), as in 1048576, 64MiB, 1.5GiB, 500MB"

// Doc is where the grammar is documented, for error messages and help.
const Doc = "docs/CONFIG.md#sizes"

// The units, largest first (Format takes the first that divides).
var units = []struct {
	name string
	mult int64
}{
	{"TiB", 1 << 40}, {"TB", 1e12}, {"GiB", 1 << 30}, {"GB", 1e9},
	{"MiB", 1 << 20}, {"MB", 1e6}, {"KiB", 1 << 10}, {"kB", 1e3}, {"KB", 1e3},
	{"B", 1},
}

// Parse parses a size (see the package documentation) into a number of
// bytes, 0 to [math.MaxInt64]. Its error says what is wrong with s and
// quotes it; the caller adds which field or flag it was, and [Grammar].
func Parse(s string) (int64, error) {
	num, unit := split(s)
	if num == "" {
		switch {
		case s == "":
			return 0, errors.New(`"": empty`)
		case s[0] == '-' || s[0] == '+':
			return 0, fmt.Errorf("%q: a size has no sign", s)
		case s[0] == ' ' || s[0] == '\t':
			return 0, fmt.Errorf("%q: blank before the number", s)
		}
		return 0, fmt.Errorf("%q: no number before the unit", s)
	}
	mult, err := unitMult(unit)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", s, err)
	}
	whole, frac, dot := strings.Cut(num, ".")
	if !digits(whole) || dot && !digits(frac) {
		return 0, fmt.Errorf("%q: %q is not a number (digits, and a decimal point between digits)", s, num)
	}
	// whole.frac × mult, exactly: (whole‖frac × mult) / 10^len(frac).
	v, ok := new(big.Int).SetString(whole+frac, 10)
	if !ok {
		return 0, fmt.Errorf("%q: %q is not a number", s, num)
	}
	v.Mul(v, big.NewInt(mult))
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(len(frac))), nil)
	q, r := new(big.Int).QuoRem(v, scale, new(big.Int))
	if r.Sign() != 0 {
		return 0, fmt.Errorf("%q is not a whole number of bytes", s)
	}
	if !q.IsInt64() {
		return 0, fmt.Errorf("%q is too large: at most %d bytes (8 EiB - 1)", s, int64(math.MaxInt64))
	}
	return q.Int64(), nil
}

// split cuts s after its number: the digits and dots it starts with, then
// the unit after at most one space. A string with no unit has unit "".
func split(s string) (num, unit string) {
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i < 0 {
		return s, ""
	}
	num, unit = s[:i], s[i:]
	if u, ok := strings.CutPrefix(unit, " "); ok && u != "" {
		unit = u
	}
	return num, unit
}

// unitMult is the multiplier of unit, or an error that says which unit
// was probably meant.
func unitMult(unit string) (int64, error) {
	if unit == "" {
		return 1, nil
	}
	for _, u := range units {
		if u.name == unit {
			return u.mult, nil
		}
	}
	switch unit {
	case "K", "k", "M", "G", "T":
		p := strings.ToUpper(unit)
		si := p + "B"
		if p == "K" {
			si = "kB"
		}
		return 0, fmt.Errorf("unit %q is ambiguous: write %siB (powers of 1024) or %s (powers of 1000)", unit, p, si)
	case "Ki", "Mi", "Gi", "Ti":
		return 0, fmt.Errorf("unit %q: write %sB", unit, unit)
	}
	for _, u := range units {
		if strings.EqualFold(u.name, unit) {
			return 0, fmt.Errorf("unit %q: units are case-sensitive: write %s", unit, u.name)
		}
	}
	if strings.HasPrefix(unit, " ") || strings.HasSuffix(unit, " ") {
		return 0, errors.New("blanks: at most one space, between the number and the unit")
	}
	return 0, fmt.Errorf("unknown unit %q", unit)
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Format writes n in the largest unit that divides it exactly: 64MiB,
// 1536KiB, 500MB, 1kB, 1001B. 0 and n < 0 are written in bytes.
// Parse(Format(n)) == n for every n ≥ 0.
func Format(n int64) string {
	if n > 0 {
		for _, u := range units {
			if u.mult > 1 && u.name != "KB" && n%u.mult == 0 {
				return strconv.FormatInt(n/u.mult, 10) + u.name
			}
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}
