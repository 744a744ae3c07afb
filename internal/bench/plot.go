package bench

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Plots are the figures WritePlots writes, each as .svg and .png.
var Plots = []string{"latency", "throughput", "speedup"}

// The figures' size, and the PNG's resolution.
const (
	figWidth  = 24 * vg.Centimeter
	figHeight = 13 * vg.Centimeter
	pngDPI    = 150
)

// WritePlots writes the figures into dir, each as SVG and PNG, all against
// the payload size on log axes: latency (median latency per transfer),
// throughput (payload bytes per second of median latency) and speedup
// (http-json's median latency ÷ the path's).
//
// A figure tells its lines apart as a paper's would: Roadrunner's paths in
// solid colours, memcpy (one copy, the limit no path can beat) dashed
// black, the strongest baseline (the fastest one measured: see
// [Result.StrongestBaseline]) thick and dark red, the other baselines thin
// and grey. The legend stands in a column of its own right of the axes, so
// it covers no point, and lists the paths that were not measured.
func (r *Result) WritePlots(dir string) error {
	for _, name := range Plots {
		f := r.figure(name)
		for _, ext := range []string{"svg", "png"} {
			if err := f.save(filepath.Join(dir, name+"."+ext)); err != nil {
				return fmt.Errorf("plot %s.%s: %w", name, ext, err)
			}
		}
	}
	return nil
}

// figure builds the figure name of Plots.
func (r *Result) figure(name string) *figure {
	notes := []string{fmt.Sprintf("median of %d repetitions", r.Repeat)}
	if r.Engine != "" {
		notes = append(notes, "engine "+r.Engine)
	}
	switch name {
	case "latency":
		return r.newFigure("Median latency per transfer (lower is better)", "latency", decadeTicks{durationLabel},
			func(row *Row) float64 { return row.LatencyMedian }, "", notes)
	case "throughput":
		return r.newFigure("Throughput: payload ÷ median latency (higher is better)", "throughput", binaryTicks{rateLabel},
			func(row *Row) float64 { return row.Throughput * (1 << 20) }, "", notes)
	case "speedup":
		return r.newFigure("Speed-up over http-json: its median latency ÷ the path's", "speed-up over http-json", decadeTicks{timesLabel},
			func(row *Row) float64 { return r.Speedup(row) }, Baseline, append(notes, "1× = as fast as http-json"))
	}
	panic("bench: no figure " + name)
}

// figure is a plot with its legend, drawn beside it.
type figure struct {
	p      *plot.Plot
	legend plot.Legend
	notes  []string // small print under the legend
	// The axes' labels, drawn by the figure: gonum centres an axis label
	// on the middle of the data's range, which a log axis puts near its
	// end, and then shrinks the plot to make room for it there.
	xlabel, ylabel string
	lines          map[string]*plotter.Line // by path
}

// The styles of the lines by their role.
var (
	// roadrunnerColors are Okabe and Ito's colours that stay apart for
	// readers with a colour vision deficiency, less the two that are hard
	// to see on white or close to the strongest baseline's red.
	roadrunnerColors = []color.Color{
		color.RGBA{0x00, 0x72, 0xb2, 0xff}, // blue
		color.RGBA{0xe6, 0x9f, 0x00, 0xff}, // orange
		color.RGBA{0x00, 0x9e, 0x73, 0xff}, // bluish green
		color.RGBA{0xcc, 0x79, 0xa7, 0xff}, // reddish purple
		color.RGBA{0x56, 0xb4, 0xe9, 0xff}, // sky blue
		color.RGBA{0x6a, 0x3d, 0x9a, 0xff}, // violet
	}
	strongestColor = color.RGBA{0xb2, 0x18, 0x2b, 0xff}
	baselineColor  = color.Gray{0x99}
	gridColor      = color.Gray{0xdd}
)

// newFigure draws y(row) against the payload size for every path with
// numbers, by role; skip names a path left out (the speed-up's reference).
func (r *Result) newFigure(title, ylabel string, yTicks plot.Ticker, y func(*Row) float64, skip string, notes []string) *figure {
	p := plot.New()
	p.BackgroundColor = nil // the figure fills the whole canvas
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.Title.Padding = vg.Points(8)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Tick.Label.Font.Size = vg.Points(10)
		a.Scale = plot.LogScale{}
	}
	p.X.Tick.Marker = binaryTicks{label: sizeLabel}
	p.Y.Tick.Marker = yTicks
	grid := plotter.NewGrid()
	grid.Vertical.Color, grid.Horizontal.Color = gridColor, gridColor
	p.Add(grid)

	f := &figure{p: p, legend: plot.NewLegend(), notes: notes, xlabel: "payload size", ylabel: ylabel, lines: map[string]*plotter.Line{}}
	f.legend.TextStyle.Font.Size = vg.Points(9)
	f.legend.Top, f.legend.Left = true, true
	f.legend.ThumbnailWidth = vg.Points(24)
	f.legend.Padding = vg.Points(1.5)

	strongest := r.StrongestBaseline()
	groups := map[pathRole][]string{}
	var unmeasured []string
	for _, path := range r.Paths { // skip too: a path looks the same in every figure
		role := roleOf(path)
		if path == strongest {
			role = roleStrongest
		}
		groups[role] = append(groups[role], path)
	}
	ymin, ymax := math.Inf(1), math.Inf(-1)
	points := func(path string) plotter.XYs {
		var xys plotter.XYs
		for _, s := range r.Sizes {
			row := r.Row(s, path)
			if row == nil || !row.ok() {
				continue
			}
			if v := y(row); !math.IsNaN(v) && !math.IsInf(v, 0) && v > 0 {
				xys = append(xys, plotter.XY{X: float64(s), Y: v})
				ymin, ymax = min(ymin, v), max(ymax, v)
			}
		}
		return xys
	}
	type line struct {
		name string
		l    *plotter.Line
		pts  *plotter.Scatter
	}
	// Drawn from the back: grey baselines, the strongest, the limit, then
	// Roadrunner's paths on top; listed in the legend in the reverse.
	order := []pathRole{roleBaseline, roleStrongest, roleLimit, roleRoadrunner}
	lines := map[pathRole][]line{}
	for _, role := range order {
		for i, path := range groups[role] {
			if path == skip {
				continue
			}
			xys := points(path)
			if len(xys) == 0 {
				if !r.measured(path) { // else only y has no number: a speed-up without its reference
					unmeasured = append(unmeasured, path)
				}
				continue
			}
			l, pts, err := plotter.NewLinePoints(xys)
			if err != nil { // only for NaN or Inf, filtered out above
				panic(err)
			}
			styleLine(role, i, l, pts)
			p.Add(l, pts)
			f.lines[path] = l
			lines[role] = append(lines[role], line{name: path, l: l, pts: pts})
		}
	}
	headings := map[pathRole]string{
		roleRoadrunner: "Roadrunner paths:", roleLimit: "Physical limit:",
		roleStrongest: "Strongest baseline:", roleBaseline: "Other baselines:",
	}
	drawn := 0
	for _, role := range slices.Backward(order) {
		if len(lines[role]) == 0 {
			continue
		}
		if drawn > 0 {
			f.legend.Add("")
		}
		f.legend.Add(headings[role])
		for _, ln := range lines[role] {
			f.legend.Add(legendName(ln.name), ln.l, ln.pts)
			drawn++
		}
	}
	if len(unmeasured) > 0 {
		f.legend.Add("")
		f.legend.Add("Not measured:")
		for _, path := range unmeasured {
			f.legend.Add("  " + path)
		}
	}

	if drawn == 0 {
		// An empty log axis cannot be drawn: no axes, and the title says why.
		p.HideAxes()
		p.Title.Text += " (no data"
		if skip != "" && !r.measured(skip) {
			p.Title.Text += ": " + skip + " was not measured"
		}
		p.Title.Text += ")"
		f.xlabel, f.ylabel = "", ""
		return f
	}
	// Explicit ranges, padded on the log scale: gonum widens a degenerate
	// range (one size) linearly, which can cross zero.
	p.X.Min, p.X.Max = float64(slices.Min(r.Sizes))/1.5, float64(slices.Max(r.Sizes))*1.5
	if skip != "" { // the speed-up's reference, 1×
		ymin, ymax = min(ymin, 1), max(ymax, 1)
		one, _ := plotter.NewLine(plotter.XYs{{X: p.X.Min, Y: 1}, {X: p.X.Max, Y: 1}})
		one.Color, one.Width, one.Dashes = color.Black, vg.Points(0.8), []vg.Length{vg.Points(1), vg.Points(2)}
		p.Add(one)
	}
	p.Y.Min, p.Y.Max = ymin/2, ymax*2
	return f
}

// measured reports whether path has a number at some size.
func (r *Result) measured(path string) bool {
	for _, s := range r.Sizes {
		if row := r.Row(s, path); row != nil && row.ok() {
			return true
		}
	}
	return false
}

// legendName is path's name in a legend, with what it is where the name
// does not say.
func legendName(path string) string {
	switch path {
	case PathMemcpy:
		return "memcpy (one Go copy)"
	case PathSocketUnix, PathSocketTCP:
		return path + " (plain socket loop)"
	}
	return path
}

// styleLine gives the i-th line of its role its look.
func styleLine(role pathRole, i int, l *plotter.Line, pts *plotter.Scatter) {
	shapes := []draw.GlyphDrawer{draw.CircleGlyph{}, draw.TriangleGlyph{}, draw.SquareGlyph{}, draw.PlusGlyph{},
		draw.CrossGlyph{}, draw.RingGlyph{}, draw.PyramidGlyph{}, draw.BoxGlyph{}}
	var c color.Color
	switch role {
	case roleRoadrunner:
		c = roadrunnerColors[i%len(roadrunnerColors)]
		l.Width = vg.Points(1.8)
		if i >= len(roadrunnerColors) { // the colours repeat: dash the second round
			l.Dashes = []vg.Length{vg.Points(5), vg.Points(2)}
		}
		pts.Shape, pts.Radius = shapes[i%len(shapes)], vg.Points(2.5)
	case roleLimit:
		c = color.Black
		l.Width = vg.Points(1.4)
		l.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
		pts.Shape, pts.Radius = draw.CircleGlyph{}, vg.Points(1.5)
	case roleStrongest:
		c = strongestColor
		l.Width = vg.Points(3.2)
		pts.Shape, pts.Radius = draw.BoxGlyph{}, vg.Points(3)
	case roleBaseline:
		c = baselineColor
		l.Width = vg.Points(1)
		pts.Shape, pts.Radius = shapes[(i+5)%len(shapes)], vg.Points(2)
	}
	l.Color, pts.Color = c, c
}

// legendGap is the space between the axes and the legend's column.
const legendGap = 0.5 * vg.Centimeter

// areas splits c: the plot's canvas on the left, inside the axes' labels,
// and the legend's column on the right, as wide as the legend's widest
// entry (or note), level with the top of the axes.
func (f *figure) areas(c draw.Canvas) (inner, legendC draw.Canvas) {
	w := f.legendWidth(c)
	plotC := draw.Crop(c, 0, -(w + legendGap), 0, 0)
	h := f.labelStyle().Height("M") + vg.Points(4)
	inner = draw.Crop(plotC, h, 0, h, 0)
	top := f.p.Title.TextStyle.Rectangle(f.p.Title.Text).Size().Y + f.p.Title.Padding
	legendC = draw.Crop(c, c.Max.X-c.Min.X-w, 0, 0, -top)
	return inner, legendC
}

func (f *figure) labelStyle() text.Style {
	sty := f.p.Y.Label.TextStyle
	sty.Font.Size = vg.Points(11)
	return sty
}

func (f *figure) legendWidth(c draw.Canvas) vg.Length {
	r := f.legend.Rectangle(c)
	w := r.Max.X - r.Min.X
	sty := f.noteStyle()
	for _, n := range f.notes {
		w = max(w, sty.Rectangle(n).Max.X)
	}
	return w + vg.Points(2)
}

func (f *figure) noteStyle() text.Style {
	sty := f.legend.TextStyle
	sty.Font.Size = vg.Points(8)
	sty.Color = color.Gray{0x55}
	return sty
}

// draw draws the figure on c.
func (f *figure) draw(c draw.Canvas) {
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())
	inner, legendC := f.areas(c)
	f.p.Draw(inner)
	dc := f.p.DataCanvas(inner)
	sty := f.labelStyle()
	descent := sty.FontExtents().Descent
	c.FillText(sty, vg.Point{X: dc.Center().X, Y: c.Min.Y + descent}, f.xlabel)
	sty.Rotation = math.Pi / 2
	c.FillText(sty, vg.Point{X: c.Min.X + sty.Height("M") - descent, Y: dc.Center().Y}, f.ylabel)

	f.legend.Draw(legendC)
	note := f.noteStyle()
	line := note.Rectangle("M").Max.Y
	y := f.legend.Rectangle(legendC).Min.Y - 2*line
	for _, n := range f.notes {
		c.FillText(note, vg.Point{X: legendC.Min.X, Y: y}, n)
		y -= line * 1.3
	}
}

// save writes the figure to file, as SVG or PNG by its extension.
func (f *figure) save(file string) error {
	var c interface {
		vg.CanvasSizer
		io.WriterTo
	}
	switch filepath.Ext(file) {
	case ".svg":
		c = vgsvg.New(figWidth, figHeight)
	case ".png":
		c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(figWidth, figHeight), vgimg.UseDPI(pngDPI))}
	default:
		return fmt.Errorf("no format for %s", file)
	}
	f.draw(draw.New(c))
	out, err := os.Create(file)
	if err != nil {
		return err
	}
	_, err = c.WriteTo(out)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// decadeTicks marks a log axis at powers of ten, labelled by label, with
// unlabelled ticks at 2 to 9 times each. Where the range holds fewer than
// two powers of ten, 2× and 5× are labelled too, then every multiple.
type decadeTicks struct{ label func(float64) string }

func (t decadeTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(lo > 0 && hi >= lo) || math.IsInf(hi, 0) {
		return nil
	}
	var ticks []plot.Tick
	for _, labelled := range [][]int{{1}, {1, 2, 5}, {1, 2, 3, 4, 5, 6, 7, 8, 9}} {
		ticks = ticks[:0]
		n := 0
		for e := int(math.Floor(math.Log10(lo))); e <= int(math.Ceil(math.Log10(hi))); e++ {
			for m := 1; m <= 9; m++ {
				v := pow10m(m, e)
				if v < lo || v > hi {
					continue
				}
				tk := plot.Tick{Value: v}
				if slices.Contains(labelled, m) {
					tk.Label = t.label(v)
					n++
				}
				ticks = append(ticks, tk)
			}
		}
		if n >= 2 {
			break
		}
	}
	return ticks
}

// pow10m is m×10^e, the float64 nearest to it (m×math.Pow10(e) can be
// one off: 3×1e-5 is 3.0000000000000004e-05).
func pow10m(m, e int) float64 {
	v, _ := strconv.ParseFloat(fmt.Sprintf("%de%d", m, e), 64) // well-formed
	return v
}

// binaryTicks marks a log axis at powers of two, labelled by label: every
// one, or every 2nd, 5th or 10th (the first of these that labels at most
// ten), counted from 1 so that 1 KiB, 1 MiB and 1 GiB keep theirs; the
// others are unlabelled ticks.
type binaryTicks struct{ label func(float64) string }

func (t binaryTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(lo > 0 && hi >= lo) || math.IsInf(hi, 0) {
		return nil
	}
	first, last := int(math.Ceil(math.Log2(lo))), int(math.Floor(math.Log2(hi)))
	step := 1
	for _, k := range []int{1, 2, 5, 10} {
		step = k
		if labelledCount(first, last, k) <= 10 {
			break
		}
	}
	var ticks []plot.Tick
	for e := first; e <= last; e++ {
		tk := plot.Tick{Value: math.Ldexp(1, e)}
		if e%step == 0 {
			tk.Label = t.label(tk.Value)
		}
		ticks = append(ticks, tk)
	}
	return ticks
}

// labelledCount is how many multiples of k lie in [first, last].
func labelledCount(first, last, k int) int {
	n := 0
	for e := first; e <= last; e++ {
		if e%k == 0 {
			n++
		}
	}
	return n
}
