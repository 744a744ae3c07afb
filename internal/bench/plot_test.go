package bench

import (
	"bytes"
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

func TestLabels(t *testing.T) {
	for _, c := range []struct {
		f    func(float64) string
		v    float64
		want string
	}{
		{durationLabel, 1e-6, "1 µs"},
		{durationLabel, 1e-5, "10 µs"},
		{durationLabel, 9.999999999999999e-05, "100 µs"}, // what gonum's LogTicks labelled
		{durationLabel, 1e-3, "1 ms"},
		{durationLabel, 0.01, "10 ms"},
		{durationLabel, 0.1, "100 ms"},
		{durationLabel, 1, "1 s"},
		{durationLabel, 2.5e-4, "250 µs"},
		{durationLabel, 0.0009996, "1 ms"}, // rounds up into the next unit
		{durationLabel, 6e-8, "60 ns"},
		{durationLabel, 43.8e-3, "43.8 ms"},
		{durationLabel, 1500, "1500 s"},
		{sizeLabel, 512, "512 B"},
		{sizeLabel, 1 << 10, "1 KiB"},
		{sizeLabel, 1023.9999999, "1 KiB"},
		{sizeLabel, 1 << 20, "1 MiB"},
		{sizeLabel, 1.5 * (1 << 20), "1.5 MiB"},
		{sizeLabel, 64 << 20, "64 MiB"},
		{sizeLabel, 1 << 30, "1 GiB"},
		{rateLabel, 256 << 20, "256 MiB/s"},
		{rateLabel, 1 << 30, "1 GiB/s"},
		{rateLabel, 16 << 30, "16 GiB/s"},
		{timesLabel, 0.5, "0.5×"},
		{timesLabel, 1, "1×"},
		{timesLabel, 69, "69×"},
		{timesLabel, 1000, "1000×"},
		{timesLabel, 7530.4, "7530×"},
	} {
		if got := c.f(c.v); got != c.want {
			t.Errorf("label of %v = %q, want %q", c.v, got, c.want)
		}
	}
}

func labels(ticks []plot.Tick) []string {
	var out []string
	for _, tk := range ticks {
		if !tk.IsMinor() {
			out = append(out, tk.Label)
		}
	}
	return out
}

func TestDecadeTicks(t *testing.T) {
	lat := decadeTicks{durationLabel}
	ticks := lat.Ticks(5e-7, 2)
	want := []string{"1 µs", "10 µs", "100 µs", "1 ms", "10 ms", "100 ms", "1 s"}
	if got := labels(ticks); !slices.Equal(got, want) {
		t.Errorf("latency ticks 0.5 µs..2 s: %q, want %q", got, want)
	}
	if len(ticks) < 6*9 { // unlabelled ticks at 2..9 of each decade
		t.Errorf("%d ticks, want the minor ones too", len(ticks))
	}
	for _, tk := range ticks {
		if tk.Value < 5e-7 || tk.Value > 2 {
			t.Errorf("tick %v outside the range", tk.Value)
		}
	}
	// Less than a decade: 2× and 5× labelled, then every multiple.
	if got := labels(lat.Ticks(1.5e-4, 6e-4)); !slices.Equal(got, []string{"200 µs", "500 µs"}) {
		t.Errorf("ticks 150..600 µs: %q", got)
	}
	if got := labels(lat.Ticks(3.1e-5, 4.9e-5)); !slices.Equal(got, []string{"40 µs"}) {
		t.Errorf("ticks 31..49 µs: %q", got)
	}
	if got := labels((decadeTicks{timesLabel}).Ticks(0.5, 15066)); !slices.Equal(got, []string{"1×", "10×", "100×", "1000×", "10000×"}) {
		t.Errorf("speed-up ticks: %q", got)
	}
	if (decadeTicks{durationLabel}).Ticks(0, 1) != nil {
		t.Error("ticks on a range from 0")
	}
}

func TestBinaryTicks(t *testing.T) {
	sizes := binaryTicks{sizeLabel}
	want := []string{"1 MiB", "2 MiB", "4 MiB", "8 MiB", "16 MiB", "32 MiB", "64 MiB", "128 MiB", "256 MiB"}
	if got := labels(sizes.Ticks((1<<20)/1.5, (256<<20)*1.5)); !slices.Equal(got, want) {
		t.Errorf("the default sizes' ticks: %q, want %q", got, want)
	}
	// 1 KiB to 1 GiB: at most ten labels, 1 KiB, 1 MiB and 1 GiB among them.
	got := labels(sizes.Ticks(683, 1.5*(1<<30)))
	if len(got) > 10 || !slices.Contains(got, "1 KiB") || !slices.Contains(got, "1 MiB") || !slices.Contains(got, "1 GiB") {
		t.Errorf("ticks 1 KiB..1 GiB: %q", got)
	}
	if got := labels(sizes.Ticks(683, 1536)); !slices.Equal(got, []string{"1 KiB"}) {
		t.Errorf("ticks around one size: %q", got)
	}
	rates := labels((binaryTicks{rateLabel}).Ticks(3<<20, 40<<30))
	if !slices.Contains(rates, "1 GiB/s") || !slices.Contains(rates, "16 MiB/s") {
		t.Errorf("throughput ticks: %q", rates)
	}
}

// paperResult is a run at the default sizes as the paper's would look:
// every Roadrunner path, the baselines the other helper's build adds
// (http-raw, native-http-json), one path unavailable, one size missing for
// a baseline. Latency = a fixed cost + size ÷ bandwidth.
func paperResult() *Result {
	type model struct {
		path  string
		fixed float64 // seconds
		bw    float64 // bytes per second
	}
	models := []model{
		{PathMemory, 2e-6, 20e9}, {PathUnix, 40e-6, 3e9}, {PathTCP, 50e-6, 2.2e9}, {PathUnixIOURing, 45e-6, 3.2e9},
		{PathTCPIOURing, 50e-6, 2.6e9}, {PathTCPSockmap, 0, 0}, {rawBaseline, 150e-6, 1e9}, {PathHTTPJSON, 400e-6, 25e6},
		{PathNativeHTTP, 100e-6, 1.5e9}, {"native-http-json", 300e-6, 90e6}, {PathMemcpy, 50e-9, 22e9},
		{PathSocketUnix, 30e-6, 3e9}, {PathSocketTCP, 40e-6, 2.3e9},
	}
	r := &Result{Sizes: DefaultSizes, Repeat: 10, Concurrency: 1, Engine: "wazero"}
	for _, m := range models {
		r.Paths = append(r.Paths, m.path)
		for _, s := range r.Sizes {
			row := Row{SizeBytes: s, Path: m.path, Available: true, Repeat: 10, Samples: 10, Verified: 12, Concurrency: 1}
			switch {
			case m.bw == 0:
				row.Available, row.Reason = false, "sockmap: operation not permitted"
			case m.path == PathHTTPJSON && s == 256<<20:
				row.Error = "benchsink: timed out"
			default:
				row.LatencyMedian = m.fixed + float64(s)/m.bw
				row.LatencyP95, row.LatencyMean = row.LatencyMedian*1.2, row.LatencyMedian*1.1
				row.Throughput = float64(s) / (1 << 20) / row.LatencyMedian
				row.TransfersPerS = 1 / row.LatencyMedian
			}
			r.Rows = append(r.Rows, row)
		}
	}
	return r
}

func TestStrongestBaseline(t *testing.T) {
	r := paperResult()
	// native-http: the fastest HTTP baseline at every size; socket-unix,
	// faster still, is the floor of a socket, not a baseline a user
	// picks. Without the socket loops, the same.
	if got := r.StrongestBaseline(); got != PathNativeHTTP {
		t.Errorf("strongest baseline = %q, want native-http (not the socket loop)", got)
	}
	r.Paths = slices.DeleteFunc(r.Paths, func(p string) bool { return p == PathSocketUnix || p == PathSocketTCP })
	if got := r.StrongestBaseline(); got != PathNativeHTTP {
		t.Errorf("strongest baseline without the socket loops = %q, want native-http", got)
	}
	// Then still, with http-raw made fastest at two sizes of nine.
	r.Row(1<<20, rawBaseline).LatencyMedian = 1e-6
	r.Row(2<<20, rawBaseline).LatencyMedian = 1e-6
	if got := r.StrongestBaseline(); got != PathNativeHTTP {
		t.Errorf("http-raw fastest at 2 of 9 sizes: strongest = %q, want native-http", got)
	}
	// A tie in wins goes to the one closest to the fastest elsewhere.
	r = &Result{Sizes: []int64{1, 2}, Paths: []string{PathHTTPJSON, PathNativeHTTP}}
	for _, c := range []struct {
		s   int64
		p   string
		lat float64
	}{{1, PathHTTPJSON, 1}, {1, PathNativeHTTP, 1.1}, {2, PathHTTPJSON, 10}, {2, PathNativeHTTP, 2}} {
		r.Rows = append(r.Rows, Row{SizeBytes: c.s, Path: c.p, Available: true, LatencyMedian: c.lat})
	}
	if got := r.StrongestBaseline(); got != PathNativeHTTP {
		t.Errorf("one win each: strongest = %q, want native-http (10%% behind once, against 5x)", got)
	}
	if got := sampleResult().StrongestBaseline(); got != PathHTTPJSON {
		t.Errorf("http-json the only baseline: strongest = %q", got)
	}
	r = sampleResult()
	r.Paths = []string{PathMemory}
	if got := r.StrongestBaseline(); got != "" {
		t.Errorf("no baseline in the run: strongest = %q", got)
	}
}

// TestFigureStyles: memcpy is dashed black, the strongest baseline the
// thickest line, the other baselines thin and grey, Roadrunner's paths
// solid and coloured, each its own colour.
func TestFigureStyles(t *testing.T) {
	r := paperResult()
	f := r.figure("latency")
	if len(f.lines) == 0 {
		t.Fatal("no lines")
	}
	if _, ok := f.lines[PathTCPSockmap]; ok {
		t.Error("an unavailable path has a line")
	}
	memcpy, strongest := f.lines[PathMemcpy], f.lines[PathNativeHTTP]
	if memcpy == nil || len(memcpy.Dashes) == 0 || memcpy.Color != color.Color(color.Black) {
		t.Errorf("memcpy: %+v, want dashed black", memcpy)
	}
	seen := map[color.Color]string{}
	for path, l := range f.lines {
		switch roleOf(path) {
		case roleRoadrunner:
			if len(l.Dashes) != 0 || l.Color == baselineColor || l.Color == strongestColor {
				t.Errorf("%s: %+v, want solid, in colour", path, l.LineStyle)
			}
			if other, ok := seen[l.Color]; ok {
				t.Errorf("%s and %s share a colour", path, other)
			}
			seen[l.Color] = path
		case roleBaseline:
			if path != PathNativeHTTP && (l.Color != baselineColor || l.Width >= strongest.Width) {
				t.Errorf("%s: %+v, want thin grey", path, l.LineStyle)
			}
		}
		if path != PathNativeHTTP && l.Width >= strongest.Width {
			t.Errorf("%s is as thick as the strongest baseline", path)
		}
	}
	if strongest.Color != strongestColor {
		t.Errorf("the strongest baseline: %+v", strongest.LineStyle)
	}
}

// TestLegendCoversNoData: the legend's column lies right of the data area,
// within the figure, at every figure of a run with every path.
func TestLegendCoversNoData(t *testing.T) {
	r := paperResult()
	for _, name := range Plots {
		f := r.figure(name)
		c := draw.New(vgimg.New(figWidth, figHeight))
		inner, legendC := f.areas(c)
		data := f.p.DataCanvas(inner)
		// The legend is drawn from the column's top left corner (Top,
		// Left), as wide and as tall as its Rectangle.
		leg := f.legend.Rectangle(legendC)
		if legendC.Min.X < data.Max.X+legendGap {
			t.Errorf("%s: the legend's column starts at x=%v, within the data area (right edge %v)", name, legendC.Min.X, data.Max.X)
		}
		if w, h := leg.Max.X-leg.Min.X, leg.Max.Y-leg.Min.Y; legendC.Min.X+w > c.Max.X || legendC.Max.Y-h < c.Min.Y || legendC.Max.Y > c.Max.Y {
			t.Errorf("%s: the legend (%v × %v) leaves the figure %v from %v", name, w, h, c.Rectangle, legendC.Rectangle)
		}
		if data.Max.X-data.Min.X < c.Max.X/2 {
			t.Errorf("%s: the data area is %v wide of %v", name, data.Max.X-data.Min.X, c.Max.X)
		}
	}
}

// TestPlotsSay: the SVGs name every group, the strongest baseline and the
// paths not measured, and carry tick labels in units, not floats.
func TestPlotsSay(t *testing.T) {
	dir := t.TempDir()
	if err := paperResult().WritePlots(dir); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]string{
		"latency":    {"1 ms", "100 µs", "64 MiB", "1 MiB", "256 MiB"},
		"throughput": {"GiB/s", "MiB/s", "64 MiB"},
		"speedup":    {"10×", "1× = as fast as http-json"},
	} {
		svg, err := os.ReadFile(filepath.Join(dir, name+".svg"))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, "Roadrunner paths:", "Physical limit:", "Strongest baseline:", "socket-unix (plain socket loop)",
			"Other baselines:", "http-raw", "native-http-json", "Not measured:", "tcp+sockmap", "median of 10 repetitions")
		for _, w := range want {
			if !bytes.Contains(svg, []byte(w)) {
				t.Errorf("%s.svg does not say %q", name, w)
			}
		}
		if bytes.Contains(svg, []byte("e-0")) && bytes.Contains(svg, []byte(">9.99")) {
			t.Errorf("%s.svg has a float for a label", name)
		}
	}
	if !strings.HasSuffix(Files[len(Files)-1], ".png") || !slices.Contains(Files, "throughput.png") {
		t.Errorf("Files: %v", Files)
	}
}
