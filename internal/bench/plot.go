package bench

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// WritePlots writes latency.{svg,png} (median latency against size, log–log,
// one line per path) and speedup.{svg,png} (speed-up over http-json against
// size, log–log) into dir.
func (r *Result) WritePlots(dir string) error {
	lat, err := r.plot("Median latency per transfer", "latency (s)", func(row *Row) float64 { return row.LatencyMedian }, "")
	if err != nil {
		return err
	}
	sp, err := r.plot("Speed-up over http-json (its median latency ÷ the path's)", "speed-up (×)", r.Speedup, Baseline)
	if err != nil {
		return err
	}
	for name, p := range map[string]*plot.Plot{"latency": lat, "speedup": sp} {
		for _, ext := range []string{"svg", "png"} {
			if err := p.Save(20*vg.Centimeter, 13*vg.Centimeter, filepath.Join(dir, name+"."+ext)); err != nil {
				return fmt.Errorf("plot %s.%s: %w", name, ext, err)
			}
		}
	}
	return nil
}

// plot draws y(row) against the size in MiB for every path with numbers,
// on log–log axes; skip names a path left out.
func (r *Result) plot(title, ylabel string, y func(*Row) float64, skip string) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "payload (MiB)"
	p.Y.Label.Text = ylabel
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.TextStyle.Font.Size = vg.Points(8)
	p.Add(plotter.NewGrid())
	lines := 0
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for i, path := range r.Paths {
		if path == skip {
			continue
		}
		var xys plotter.XYs
		for _, s := range r.Sizes {
			row := r.Row(s, path)
			if row == nil || !row.ok() {
				continue
			}
			v := y(row)
			if math.IsNaN(v) || v <= 0 {
				continue
			}
			xys = append(xys, plotter.XY{X: float64(s) / (1 << 20), Y: v})
			ymin, ymax = min(ymin, v), max(ymax, v)
		}
		if len(xys) == 0 {
			continue
		}
		l, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, err
		}
		c := plotutil.Color(i)
		l.Color, pts.Color = c, c
		l.Width = vg.Points(1.2)
		if i >= 7 { // the palette's colours repeat: dash the second round
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
		}
		pts.Shape = plotutil.Shape(i)
		pts.Radius = vg.Points(2)
		p.Add(l, pts)
		p.Legend.Add(path, l, pts)
		lines++
	}
	if lines > 0 {
		// Explicit ranges, padded on the log scale: gonum widens a
		// degenerate range (one size) linearly, which can cross zero.
		xmin, xmax := float64(slices.Min(r.Sizes))/(1<<20), float64(slices.Max(r.Sizes))/(1<<20)
		p.X.Min, p.X.Max = xmin/1.5, xmax*1.5
		p.Y.Min, p.Y.Max = ymin/2, ymax*2
	}
	if lines == 0 {
		// An empty log axis cannot be drawn: say so on the plot.
		p.X.Scale, p.Y.Scale = plot.LinearScale{}, plot.LinearScale{}
		p.X.Tick.Marker, p.Y.Tick.Marker = plot.DefaultTicks{}, plot.DefaultTicks{}
		p.Title.Text += " (no data)"
		p.Add(plotter.NewFunction(func(float64) float64 { return 0 }))
	}
	p.Legend.ThumbnailWidth = vg.Points(20)
	return p, nil
}
