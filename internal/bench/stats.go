package bench

import (
	"math"
	"slices"
	"time"
)

// quantile is the q-quantile of xs (0 ≤ q ≤ 1) by linear interpolation
// between the closest ranks; NaN for no samples.
func quantile(xs []time.Duration, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	f := pos - float64(lo)
	return (float64(s[lo])*(1-f) + float64(s[hi])*f) / 1e9
}

func mean(xs []time.Duration) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	var sum float64
	for _, x := range xs {
		sum += float64(x)
	}
	return sum / float64(len(xs)) / 1e9
}
