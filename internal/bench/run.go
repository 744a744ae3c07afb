package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/roadrunner-wasm/roadrunner/transport/features"
)

// Row is the result of one path at one size.
type Row struct {
	SizeBytes int64  `json:"size_bytes"`
	Path      string `json:"path"`
	Accel     string `json:"accel"` // the nodes' --accel; "" for a baseline
	Available bool   `json:"available"`
	Reason    string `json:"reason,omitempty"` // why not available
	// Error says why a path that ran failed: a delivery that did not
	// verify, a failed send. Such a row has no numbers.
	Error string `json:"error,omitempty"`

	Repeat      int `json:"repeat"`
	Samples     int `json:"samples"` // transfers timed for latency
	Verified    int `json:"verified"`
	Concurrency int `json:"concurrency"`

	LatencyMedian float64 `json:"latency_median_s"`
	LatencyP95    float64 `json:"latency_p95_s"`
	LatencyMean   float64 `json:"latency_mean_s"`
	Throughput    float64 `json:"throughput_mib_s"` // size / median latency
	TransfersPerS float64 `json:"transfers_per_s"`  // at Concurrency
	// CPU per transfer, seconds; ReceiverCPU is NaN where sender and
	// receiver are one process (memory, memcpy).
	SenderCPU   float64 `json:"sender_cpu_s"`
	ReceiverCPU float64 `json:"receiver_cpu_s"`
	TotalCPU    float64 `json:"total_cpu_s"`
	SenderRSS   int64   `json:"sender_peak_rss_bytes"`
	ReceiverRSS int64   `json:"receiver_peak_rss_bytes"`
	PeakRSS     int64   `json:"peak_rss_bytes"` // the larger
	StartupS    float64 `json:"startup_s"`      // the path's processes, until ready; excluded
	Notes       string  `json:"notes,omitempty"`
}

// ok reports whether the row has numbers.
func (r *Row) ok() bool { return r.Available && r.Error == "" }

// ColdStart is one engine's start-up for a benchmark guest.
type ColdStart struct {
	Engine  string  `json:"engine"`
	Version string  `json:"version"`
	Module  string  `json:"module"`
	ColdS   float64 `json:"cold_load_s"`   // compile and first instance, empty cache
	CachedS float64 `json:"cached_load_s"` // the same from a warm compilation cache
	Error   string  `json:"error,omitempty"`
}

// Result is a whole run.
type Result struct {
	Start, End  time.Time          `json:"-"`
	StartedAt   string             `json:"started_at"`
	DurationS   float64            `json:"duration_s"`
	Host        Host               `json:"host"`
	Sizes       []int64            `json:"sizes"`
	Paths       []string           `json:"paths"`
	Repeat      int                `json:"repeat"`
	Warmup      int                `json:"warmup"`
	Concurrency int                `json:"concurrency"`
	Engine      string             `json:"engine"`
	Rows        []Row              `json:"rows"`
	ColdStart   []ColdStart        `json:"cold_start"`
	Probe       []features.Feature `json:"probe"`
}

// Host describes the machine.
type Host struct {
	Kernel    string `json:"kernel"`
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model"`
	MemBytes  int64  `json:"mem_bytes"`
	GoVersion string `json:"go_version"`
}

// Failed counts the rows whose path ran and failed.
func (r *Result) Failed() int {
	n := 0
	for _, row := range r.Rows {
		if row.Error != "" {
			n++
		}
	}
	return n
}

// Row returns the row of size and path, or nil.
func (r *Result) Row(size int64, path string) *Row {
	for i := range r.Rows {
		if r.Rows[i].SizeBytes == size && r.Rows[i].Path == path {
			return &r.Rows[i]
		}
	}
	return nil
}

// availability says whether this host can run path, and why not.
func availability(path string, probe []features.Feature) (bool, string) {
	need := map[string][]string{
		PathUnix: {"unix"}, PathTCP: {"tcp"}, PathSocketUnix: {"unix"}, PathSocketTCP: {"tcp"},
		PathHTTPJSON: {"tcp"}, PathHTTPRaw: {"tcp"}, PathNativeHTTP: {"tcp"}, PathNativeHTTPJSON: {"tcp"},
		PathUnixIOURing: {"unix", "io_uring"}, PathTCPIOURing: {"tcp", "io_uring"},
		PathTCPSockmap: {"tcp", "sockmap"}, PathShm: {"unix", "shm"},
	}[path]
	for _, name := range need {
		i := slices.IndexFunc(probe, func(f features.Feature) bool { return f.Name == name })
		if i < 0 {
			return false, name + ": not in this build"
		}
		if !probe[i].Available {
			return false, name + ": " + probe[i].Reason
		}
	}
	return true, ""
}

// Run runs the benchmark. It returns the result also when a path failed
// (the failed rows say why; Result.Failed counts them); an error means
// the run could not be made at all or was canceled.
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	for _, m := range Modules {
		if _, err := os.Stat(fmt.Sprintf("%s/%s.wasm", o.WasmDir, m)); err != nil {
			return nil, fmt.Errorf("guest module: %w (make wasm builds them)", err)
		}
	}
	res := &Result{Start: time.Now(), Sizes: o.Sizes, Paths: o.Paths, Repeat: o.Repeat, Warmup: o.Warmup,
		Concurrency: o.Concurrency, Engine: o.Engine, Host: hostInfo(), Probe: o.Probe()}
	res.StartedAt = res.Start.UTC().Format(time.RFC3339)
	res.ColdStart = coldStarts(ctx, &o)

	avail := map[string]string{}
	var runnable []string
	for _, p := range o.Paths {
		if ok, why := availability(p, res.Probe); ok {
			runnable = append(runnable, p)
		} else {
			avail[p] = why
		}
	}
	pr := newProgress(&o, runnable, res.Start)
	for _, size := range o.Sizes {
		rows := map[string]*Row{}
		for _, p := range o.Paths {
			rows[p] = &Row{SizeBytes: size, Path: p, Accel: accelOf(p), Available: true, Repeat: o.Repeat, Concurrency: o.Concurrency}
			if why, no := avail[p]; no {
				rows[p].Available, rows[p].Reason = false, why
			}
		}
		budget := o.MemoryBudget
		if budget == 0 {
			if avail, err := MemAvailable(); err == nil {
				budget = avail * 6 / 10
			} else {
				budget = math.MaxInt64
			}
		}
		for _, group := range groups(runnable, size, budget) {
			if err := runGroup(ctx, &o, size, group, rows, pr); err != nil {
				return res, err
			}
		}
		for _, p := range o.Paths {
			res.Rows = append(res.Rows, *rows[p])
		}
	}
	pr.done()
	res.End = time.Now()
	res.DurationS = res.End.Sub(res.Start).Seconds()
	return res, ctx.Err()
}

// groups splits paths into groups whose processes fit budget at size,
// in order; a path too large alone gets a group of its own.
func groups(paths []string, size, budget int64) [][]string {
	var out [][]string
	var cur []string
	var used int64
	for _, p := range paths {
		need := memoryNeed(p, size)
		if len(cur) > 0 && used+need > budget {
			out = append(out, cur)
			cur, used = nil, 0
		}
		cur = append(cur, p)
		used += need
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// pathState accumulates one path's measurements at one size.
type pathState struct {
	run              pathRun
	seq              []uint64 // per pair
	lat, conc        []time.Duration
	sendCPU, recvCPU time.Duration
	transfers        int
	failed           bool
	overhead         []time.Duration // CPU of an empty batch, per process
}

// group is one group of paths at one size while it runs: the processes of
// each path that started, and the rows its steps fill in.
type group struct {
	o      *Options
	size   int64
	rows   map[string]*Row
	pr     *progress
	e      *env
	states map[string]*pathState // the paths that started
	active []string              // the same, in the group's order
}

// runGroup measures the paths of group at size, filling in their rows: it
// starts their processes, warms them up, runs o.Repeat interleaved
// repetitions, records what the processes report, and stops them. A path
// that fails is marked in its row and left out of the following steps; the
// error is only for a run canceled (or a temporary directory refused).
func runGroup(ctx context.Context, o *Options, size int64, paths []string, rows map[string]*Row, pr *progress) error {
	dir, err := os.MkdirTemp("", "rrbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	g := newGroup(o, size, dir, rows, pr)
	defer g.stop(ctx)
	if err := g.start(ctx, paths); err != nil {
		return err
	}
	g.warmUp(ctx)
	for rep := range o.Repeat {
		if err := g.repetition(ctx, rep); err != nil {
			return err
		}
	}
	g.record(ctx)
	return nil
}

// newGroup makes a group at size whose paths work in dir and fill in rows.
func newGroup(o *Options, size int64, dir string, rows map[string]*Row, pr *progress) *group {
	return &group{o: o, size: size, rows: rows, pr: pr, states: map[string]*pathState{},
		e: &env{o: o, size: size, dir: dir, client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}}
}

// start starts each path's processes; start-up is timed into the row and
// excluded from everything after it. A path that does not start is marked
// failed (or, for the sockmap, unavailable), and the others go on.
func (g *group) start(ctx context.Context, paths []string) error {
	for _, p := range paths {
		g.pr.step(g.size, p, "start", 0)
		t0 := time.Now()
		run, err := startPath(ctx, g.e, p)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if p == PathTCPSockmap {
				// A host whose probe says yes may still refuse the
				// nodes (strict accel): the reason is the node's.
				g.rows[p].Available, g.rows[p].Reason = false, "node refused --accel sockmap --strict-accel: "+lastLine(err.Error())
				continue
			}
			g.fail(p, fmt.Errorf("start: %w", err))
			continue
		}
		g.rows[p].StartupS = time.Since(t0).Seconds()
		st := &pathState{run: run, seq: make([]uint64, g.o.Concurrency)}
		for i := range st.seq {
			st.seq[i] = 1
		}
		g.states[p] = st
		g.active = append(g.active, p)
	}
	return nil
}

// stop stops every path's processes, all at once (a node drains for a
// moment after SIGTERM); a path that failed to stop cleanly gets a note.
func (g *group) stop(ctx context.Context) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	for p, st := range g.states {
		wg.Go(func() {
			err := st.run.stop()
			mu.Lock()
			defer mu.Unlock()
			if err != nil && g.rows[p].Error == "" && ctx.Err() == nil {
				g.rows[p].Notes = join(g.rows[p].Notes, "stop: "+firstLine(err.Error()))
			}
		})
	}
	wg.Wait()
}

// fail marks path p failed: its row says why, and no later step runs it.
func (g *group) fail(p string, err error) {
	g.rows[p].Error = firstLine(err.Error())
	if st := g.states[p]; st != nil {
		st.failed = true
	}
	g.pr.failed(g.size, p, err)
}

// batch makes count transfers of path p on pair, with the pair's next
// sequence numbers.
func (g *group) batch(ctx context.Context, p string, pair, count int, done func()) (batchOut, error) {
	st := g.states[p]
	out, err := st.run.batch(ctx, pair, st.seq[pair], count, done)
	st.seq[pair] += uint64(count)
	return out, err
}

// warmUp runs each path's warm-up: every pair's buffers grown and
// touched, first connections made; verified like every transfer, not
// timed. Then it measures the path's batch overhead.
func (g *group) warmUp(ctx context.Context) {
	for _, p := range g.active {
		g.pr.step(g.size, p, "warm-up", 0)
		n := max(1, g.o.Warmup)
		for pair := range g.o.Concurrency {
			if _, err := g.batch(ctx, p, pair, n, nil); err != nil {
				g.fail(p, fmt.Errorf("warm-up: %w", err))
				break
			}
			g.rows[p].Verified += n
		}
		if !g.states[p].failed {
			g.measureOverhead(ctx, p)
		}
	}
}

// measureOverhead measures the CPU a batch of path p costs besides its
// transfers (the invocation or request that starts it), on empty batches,
// to take off every batch: the median of a few, per process.
func (g *group) measureOverhead(ctx context.Context, p string) {
	st := g.states[p]
	var snd, rcv []time.Duration
	pids := st.run.procs()
	for range 5 {
		var c1 []time.Duration
		c0 := cpus(pids)
		if _, err := g.batch(ctx, p, 0, 0, func() { c1 = cpus(pids) }); err != nil {
			g.fail(p, fmt.Errorf("empty batch: %w", err))
			break
		}
		snd = append(snd, c1[0]-c0[0])
		if len(pids) > 1 {
			rcv = append(rcv, c1[1]-c0[1])
		}
	}
	st.overhead = []time.Duration{time.Duration(quantile(snd, 0.5) * 1e9)}
	if len(pids) > 1 {
		st.overhead = append(st.overhead, time.Duration(quantile(rcv, 0.5)*1e9))
	}
}

// repetition runs repetition rep: a timed batch of every path that has not
// failed, one path after the other in an order rotated every repetition
// (each path runs first as often as the others), then, with Concurrency >
// 1, the same with every pair at once. It returns the context's error.
func (g *group) repetition(ctx context.Context, rep int) error {
	order := slices.Clone(g.active)
	if len(order) > 0 {
		k := rep % len(order)
		order = append(order[k:], order[:k]...)
	}
	for _, p := range order {
		if g.states[p].failed || ctx.Err() != nil {
			continue
		}
		g.pr.step(g.size, p, "", rep+1)
		g.timedBatch(ctx, p)
	}
	if g.o.Concurrency > 1 {
		for _, p := range order {
			if g.states[p].failed || ctx.Err() != nil {
				continue
			}
			g.pr.step(g.size, p, fmt.Sprintf("×%d", g.o.Concurrency), rep+1)
			g.concurrentBatch(ctx, p)
		}
	}
	return ctx.Err()
}

// timedBatch runs one batch of path p on pair 0 and adds its latencies and
// its CPU, less the verification's and the batch overhead, to the path's.
func (g *group) timedBatch(ctx context.Context, p string) {
	st := g.states[p]
	b := g.o.batchFor(g.size)
	pids := st.run.procs()
	var c1 []time.Duration
	c0 := cpus(pids)
	out, err := g.batch(ctx, p, 0, b, func() { c1 = cpus(pids) })
	if err != nil {
		g.fail(p, err)
		return
	}
	g.rows[p].Verified += b
	st.lat = append(st.lat, out.lat...)
	st.transfers += b
	st.sendCPU += c1[0] - c0[0] - out.sendVerify - st.overhead[0]
	if len(pids) > 1 {
		st.recvCPU += c1[1] - c0[1] - out.recvVerify - st.overhead[1]
	} else {
		st.sendCPU -= out.recvVerify
	}
}

// concurrentBatch runs one batch of path p on every pair at once, for
// transfers per second.
func (g *group) concurrentBatch(ctx context.Context, p string) {
	st := g.states[p]
	b := g.o.batchFor(g.size)
	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs []error
	for pair := range g.o.Concurrency {
		wg.Go(func() {
			out, err := g.batch(ctx, p, pair, b, nil)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			st.conc = append(st.conc, out.lat...)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		g.fail(p, err)
		return
	}
	g.rows[p].Verified += b * g.o.Concurrency
}

// record fills in each started path's row: its processes' peak RSS, their
// notes, and, if it did not fail, its numbers.
func (g *group) record(ctx context.Context) {
	for _, p := range g.active {
		st, row := g.states[p], g.rows[p]
		pids := st.run.procs()
		if rss, err := PeakRSS(pids[0]); err == nil {
			row.SenderRSS = rss
		}
		if len(pids) > 1 {
			if rss, err := PeakRSS(pids[1]); err == nil {
				row.ReceiverRSS = rss
			}
		}
		row.PeakRSS = max(row.SenderRSS, row.ReceiverRSS)
		row.Notes = join(row.Notes, st.run.notes(ctx))
		if st.failed {
			continue
		}
		summarize(row, st, len(pids) > 1, g.o.Concurrency)
	}
}

func summarize(r *Row, st *pathState, twoProcs bool, conc int) {
	r.Samples = len(st.lat)
	r.LatencyMedian = quantile(st.lat, 0.5)
	r.LatencyP95 = quantile(st.lat, 0.95)
	r.LatencyMean = mean(st.lat)
	r.Throughput = float64(r.SizeBytes) / (1 << 20) / r.LatencyMedian
	if conc > 1 {
		r.TransfersPerS = float64(conc) / mean(st.conc)
	} else {
		r.TransfersPerS = 1 / r.LatencyMean
	}
	n := float64(st.transfers)
	r.SenderCPU = max(0, st.sendCPU.Seconds()/n)
	if twoProcs {
		r.ReceiverCPU = max(0, st.recvCPU.Seconds()/n)
		r.TotalCPU = r.SenderCPU + r.ReceiverCPU
	} else {
		r.ReceiverCPU = math.NaN()
		r.TotalCPU = r.SenderCPU
	}
}

// cpus reads the CPU clocks of pids; an unreadable one is 0.
func cpus(pids []int) []time.Duration {
	out := make([]time.Duration, len(pids))
	for i, pid := range pids {
		out[i], _ = ProcessCPU(pid)
	}
	return out
}

func join(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndex(s, "\n"); i >= 0 {
		return s[i+1:]
	}
	return s
}

func hostInfo() Host {
	h := Host{CPUs: goruntime.NumCPU(), GoVersion: goruntime.Version()}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		h.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				h.CPUModel = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		h.MemBytes = int64(si.Totalram) * int64(si.Unit)
	}
	return h
}
