package bench

import (
	"fmt"
	"sync"
	"time"
)

// progress prints where the run is, and an estimate of the time left, on
// Options.Progress: size, path, repetition, ETA.
type progress struct {
	o          *Options
	mu         sync.Mutex
	start      time.Time // of the run
	begun      time.Time // of the transfers, for the ETA
	total      float64   // work units: for each (size, path, repetition), the size plus 1 MiB
	worked     float64
	last       string
	lastWeight float64
}

func newProgress(o *Options, paths []string, start time.Time) *progress {
	p := &progress{o: o, start: start, begun: time.Now()}
	for _, s := range o.Sizes {
		p.total += float64(len(paths)*(o.Repeat+1)) * weight(s)
	}
	return p
}

func weight(size int64) float64 { return float64(size + 1<<20) }

// step says that path at size starts its repetition rep (0: start-up or
// warm-up, named by what).
func (p *progress) step(size int64, path, what string, rep int) {
	if p.o.Progress == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if what == "warm-up" || (rep > 0 && what == "") {
		p.worked += p.lastWeight
		p.lastWeight = weight(size)
	}
	eta := "ETA ?"
	if el := time.Since(p.begun); p.worked > 0 {
		left := time.Duration(float64(el) / p.worked * max(0, p.total-p.worked))
		eta = "ETA " + left.Round(time.Second).String()
	}
	label := what
	if rep > 0 {
		label = fmt.Sprintf("rep %d/%d %s", rep, p.o.Repeat, what)
	}
	line := fmt.Sprintf("bench: %-7s %-13s %-14s %s", SizeName(size), path, label, eta)
	if p.o.ProgressTTY {
		fmt.Fprintf(p.o.Progress, "\r\033[K%s", line)
	} else {
		fmt.Fprintln(p.o.Progress, line)
	}
	p.last = line
}

func (p *progress) failed(size int64, path string, err error) {
	if p.o.Progress == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.o.ProgressTTY {
		fmt.Fprint(p.o.Progress, "\r\033[K")
	}
	fmt.Fprintf(p.o.Progress, "bench: %s %s FAILED: %v\n", SizeName(size), path, err)
}

func (p *progress) done() {
	if p.o.Progress == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.o.ProgressTTY {
		fmt.Fprint(p.o.Progress, "\r\033[K")
	}
	fmt.Fprintf(p.o.Progress, "bench: done in %s\n", time.Since(p.start).Round(time.Second))
}
