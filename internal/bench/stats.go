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

// pathRole is what a path stands for in the outputs.
type pathRole int

const (
	roleRoadrunner pathRole = iota // a path of this project
	roleLimit                      // memcpy: one copy, what no path can beat
	roleStrongest                  // the fastest baseline of a run
	roleBaseline                   // what Roadrunner replaces
)

// Reference baselines the tables measure every path against, by name: a
// run has their rows or not.
const (
	rawBaseline  = "http-raw"   // the payload's bytes over HTTP between Wasm functions, no serialization
	jsonBaseline = PathHTTPJSON // the paper's: base64 JSON over HTTP between Wasm functions
)

// baselinePaths are the paths that stand for what Roadrunner replaces, by
// name, whether or not this build has them: HTTP between Wasm functions
// (raw bytes or JSON), between native processes (raw or JSON), and plain
// socket loops between native processes.
var baselinePaths = []string{rawBaseline, PathNativeHTTP, PathHTTPJSON, "native-http-json", PathSocketUnix, PathSocketTCP}

// roleOf is path's role, before the strongest baseline is picked.
func roleOf(path string) pathRole {
	switch {
	case path == PathMemcpy:
		return roleLimit
	case slices.Contains(baselinePaths, path):
		return roleBaseline
	}
	return roleRoadrunner
}

// StrongestBaseline is the fastest baseline path of the run a user would
// pick, from its numbers: of the HTTP baselines (between Wasm functions or
// native processes, raw or JSON; not the plain socket loops, the floor of
// what a socket does with no framework at all), the one with the lowest
// median latency at the most sizes (among those measured at each); between baselines that tie, the one
// whose latency is the least above the fastest one's, as a geometric mean
// over the sizes it has. "" if no baseline has a number.
func (r *Result) StrongestBaseline() string {
	wins := map[string]int{}
	logAbove := map[string][]float64{} // log(latency ÷ the fastest baseline's), per size
	for _, s := range r.Sizes {
		best := math.Inf(1)
		var at []string
		for _, p := range r.Paths {
			if roleOf(p) != roleBaseline || p == PathSocketUnix || p == PathSocketTCP {
				continue
			}
			if row := r.Row(s, p); row != nil && row.ok() && row.LatencyMedian > 0 {
				at = append(at, p)
				best = min(best, row.LatencyMedian)
			}
		}
		for _, p := range at {
			lat := r.Row(s, p).LatencyMedian
			if lat == best {
				wins[p]++
			}
			logAbove[p] = append(logAbove[p], math.Log(lat/best))
		}
	}
	strongest, bestWins, bestAbove := "", -1, math.Inf(1)
	for _, p := range r.Paths { // in the run's order: ties go to the first
		above, ok := logAbove[p]
		if !ok {
			continue
		}
		g := meanOf(above)
		if wins[p] > bestWins || wins[p] == bestWins && g < bestAbove {
			strongest, bestWins, bestAbove = p, wins[p], g
		}
	}
	return strongest
}

func meanOf(xs []float64) float64 {
	var sum float64
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}
