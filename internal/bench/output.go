package bench

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// LongColumns are the long CSV's columns, one row per size and path.
var LongColumns = []string{
	"size_bytes", "path", "accel", "available", "reason", "error", "repeat", "samples", "verified", "concurrency",
	"latency_median_s", "latency_p95_s", "latency_mean_s", "throughput_mib_s", "transfers_per_s",
	"sender_cpu_s", "receiver_cpu_s", "total_cpu_s",
	"peak_rss_bytes", "sender_peak_rss_bytes", "receiver_peak_rss_bytes", "startup_s", "speedup_vs_http_json", "speedup_vs_http_raw", "notes",
}

// num formats a number for the CSV: empty for none (NaN), else 6
// significant digits.
func num(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return ""
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// Speedup is how many times lower row's median latency is than the
// baseline's (http-json) at its size; NaN if either has no number.
func (r *Result) Speedup(row *Row) float64 { return r.SpeedupOver(Baseline, row) }

// SpeedupOver is how many times lower row's median latency is than that of
// the path ref at the same size: ref's median ÷ row's. NaN if the run has
// no number for either (ref not measured at that size, or not in this run).
func (r *Result) SpeedupOver(ref string, row *Row) float64 {
	base := r.Row(row.SizeBytes, ref)
	if base == nil || !base.ok() || !row.ok() || row.LatencyMedian <= 0 {
		return math.NaN()
	}
	return base.LatencyMedian / row.LatencyMedian
}

// WriteCSV writes the long CSV: LongColumns, one row per size and path.
// A row without numbers (unavailable, or failed) has them empty.
func (r *Result) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write(LongColumns)
	for i := range r.Rows {
		row := &r.Rows[i]
		rec := []string{
			strconv.FormatInt(row.SizeBytes, 10), row.Path, row.Accel, strconv.FormatBool(row.Available), row.Reason, row.Error,
			strconv.Itoa(row.Repeat), strconv.Itoa(row.Samples), strconv.Itoa(row.Verified), strconv.Itoa(row.Concurrency),
		}
		if row.ok() {
			rec = append(rec, num(row.LatencyMedian), num(row.LatencyP95), num(row.LatencyMean), num(row.Throughput), num(row.TransfersPerS),
				num(row.SenderCPU), num(row.ReceiverCPU), num(row.TotalCPU),
				strconv.FormatInt(row.PeakRSS, 10), strconv.FormatInt(row.SenderRSS, 10), rssOrEmpty(row.ReceiverRSS),
				num(row.StartupS), num(r.SpeedupOver(jsonBaseline, row)), num(r.SpeedupOver(rawBaseline, row)), row.Notes)
		} else {
			rec = append(rec, make([]string, len(LongColumns)-len(rec)-1)...)
			rec = append(rec, row.Notes)
		}
		cw.Write(rec)
	}
	cw.Flush()
	return cw.Error()
}

func rssOrEmpty(n int64) string {
	if n == 0 {
		return ""
	}
	return strconv.FormatInt(n, 10)
}

// WriteWideCSV writes the paper's layout: size_mb (the size in MiB), then
// one column per path with its median latency in seconds; empty where the
// path has no number.
func (r *Result) WriteWideCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write(append([]string{"size_mb"}, r.Paths...))
	for _, s := range r.Sizes {
		rec := []string{num(float64(s) / (1 << 20))}
		for _, p := range r.Paths {
			v := math.NaN()
			if row := r.Row(s, p); row != nil && row.ok() {
				v = row.LatencyMedian
			}
			rec = append(rec, num(v))
		}
		cw.Write(rec)
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSON writes the whole result as JSON (NaN as null).
func (r *Result) WriteJSON(w io.Writer) error {
	type jrow struct {
		Row
		LatencyMedian *float64 `json:"latency_median_s"`
		LatencyP95    *float64 `json:"latency_p95_s"`
		LatencyMean   *float64 `json:"latency_mean_s"`
		Throughput    *float64 `json:"throughput_mib_s"`
		TransfersPerS *float64 `json:"transfers_per_s"`
		SenderCPU     *float64 `json:"sender_cpu_s"`
		ReceiverCPU   *float64 `json:"receiver_cpu_s"`
		TotalCPU      *float64 `json:"total_cpu_s"`
		Speedup       *float64 `json:"speedup_vs_http_json"`
		SpeedupRaw    *float64 `json:"speedup_vs_http_raw"`
	}
	ptr := func(ok bool, v float64) *float64 {
		if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		return &v
	}
	rows := make([]jrow, len(r.Rows))
	for i := range r.Rows {
		row := &r.Rows[i]
		ok := row.ok()
		rows[i] = jrow{Row: *row,
			LatencyMedian: ptr(ok, row.LatencyMedian), LatencyP95: ptr(ok, row.LatencyP95), LatencyMean: ptr(ok, row.LatencyMean),
			Throughput: ptr(ok, row.Throughput), TransfersPerS: ptr(ok, row.TransfersPerS),
			SenderCPU: ptr(ok, row.SenderCPU), ReceiverCPU: ptr(ok, row.ReceiverCPU), TotalCPU: ptr(ok, row.TotalCPU),
			Speedup: ptr(ok, r.SpeedupOver(jsonBaseline, row)), SpeedupRaw: ptr(ok, r.SpeedupOver(rawBaseline, row)),
		}
	}
	out := struct {
		*Result
		Rows []jrow `json:"rows"`
	}{r, rows}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func fmtDur(s float64) string {
	if math.IsNaN(s) {
		return "–"
	}
	return durationLabel(s)
}

// roundSig rounds v to n significant decimal digits.
func roundSig(v float64, n int) float64 {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', n, 64), 64) // well-formed
	return r
}

// short is v to 3 significant digits, without an exponent: 100, 1.5, 0.25.
func short(v float64) string { return strconv.FormatFloat(roundSig(v, 3), 'f', -1, 64) }

// durationLabel is a number of seconds as people write it, to 3
// significant digits: 1 µs, 250 µs, 1 ms, 1.5 s (not 9.999999999999999e-05).
func durationLabel(s float64) string {
	s = roundSig(s, 3)
	for _, u := range []struct {
		name string
		size float64
	}{{"s", 1}, {"ms", 1e-3}, {"µs", 1e-6}} {
		if math.Abs(s) >= u.size {
			return short(s/u.size) + " " + u.name
		}
	}
	return short(s/1e-9) + " ns"
}

// sizeLabel is a number of bytes in binary units, to 3 significant
// digits: 512 B, 1 KiB, 1.5 MiB, 64 MiB, 1 GiB.
func sizeLabel(n float64) string {
	for _, u := range []struct {
		name string
		size float64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		// Within rounding of the unit: 1023.99999 B is 1 KiB.
		if math.Abs(n) >= u.size*(1-1e-9) {
			return short(n/u.size) + " " + u.name
		}
	}
	return short(n) + " B"
}

// rateLabel is bytes per second in binary units: 64 MiB/s, 2 GiB/s.
func rateLabel(bps float64) string { return sizeLabel(bps) + "/s" }

// timesLabel is a ratio: 0.5×, 1×, 69×, 1000×.
func timesLabel(v float64) string { return short(v) + "×" }

func fmtBytes(n int64) string {
	if n == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
}

// references are the baselines the tables hold every path against, by
// name, those of them in this run: the raw bytes over HTTP between Wasm
// functions, and the paper's JSON.
func (r *Result) references() []string {
	var out []string
	for _, ref := range []string{rawBaseline, jsonBaseline} {
		if slices.Contains(r.Paths, ref) {
			out = append(out, ref)
		}
	}
	return out
}

// WriteMarkdown writes the results as Markdown: the median latency of
// every path at every size; the speed-up of every Roadrunner path over
// http-raw and http-json where the run has them; then one table per size
// with everything.
func (r *Result) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Median latency per transfer (%d repetitions; `–` = unavailable or failed):\n\n", r.Repeat)
	b.WriteString("| size |")
	for _, p := range r.Paths {
		fmt.Fprintf(&b, " %s |", p)
	}
	b.WriteString("\n|---|" + strings.Repeat("---:|", len(r.Paths)) + "\n")
	for _, s := range r.Sizes {
		fmt.Fprintf(&b, "| %s |", SizeName(s))
		for _, p := range r.Paths {
			v := math.NaN()
			if row := r.Row(s, p); row != nil && row.ok() {
				v = row.LatencyMedian
			}
			fmt.Fprintf(&b, " %s |", fmtDur(v))
		}
		b.WriteString("\n")
	}
	if sb := r.StrongestBaseline(); sb != "" {
		fmt.Fprintf(&b, "\nStrongest baseline (of the HTTP baselines a user would pick, the fastest at the most sizes; the socket loops are the floor of a socket, not a baseline): %s.\n", sb)
	}

	refs := r.references()
	var ours []string
	for _, p := range r.Paths {
		if roleOf(p) == roleRoadrunner {
			ours = append(ours, p)
		}
	}
	if len(refs) > 0 && len(ours) > 0 {
		fmt.Fprintf(&b, "\nSpeed-up of each Roadrunner path over %s: their median latency ÷ the path's (`–` = either not measured):\n\n", strings.Join(refs, " and "))
		b.WriteString("| size | over |")
		for _, p := range ours {
			fmt.Fprintf(&b, " %s |", p)
		}
		b.WriteString("\n|---|---|" + strings.Repeat("---:|", len(ours)) + "\n")
		for _, s := range r.Sizes {
			for _, ref := range refs {
				fmt.Fprintf(&b, "| %s | %s |", SizeName(s), ref)
				for _, p := range ours {
					v := math.NaN()
					if row := r.Row(s, p); row != nil {
						v = r.SpeedupOver(ref, row)
					}
					fmt.Fprintf(&b, " %s |", fmtX(v))
				}
				b.WriteString("\n")
			}
		}
	}

	head := []string{"path", "median", "p95", "MiB/s", "transfers/s"}
	for _, ref := range refs {
		head = append(head, "× vs "+ref)
	}
	head = append(head, "CPU/transfer sender", "receiver", "peak RSS sender", "receiver", "verified")
	for _, s := range r.Sizes {
		fmt.Fprintf(&b, "\n%s (concurrency %d):\n\n", SizeName(s), r.Concurrency)
		b.WriteString("| " + strings.Join(head, " | ") + " |\n|---|" + strings.Repeat("---:|", len(head)-1) + "\n")
		for _, p := range r.Paths {
			row := r.Row(s, p)
			if row == nil {
				continue
			}
			if !row.ok() {
				why := "unavailable: " + row.Reason
				if row.Error != "" {
					why = "FAILED: " + row.Error
				}
				fmt.Fprintf(&b, "| %s | %s |%s %d |\n", p, strings.ReplaceAll(why, "|", "\\|"), strings.Repeat("|", len(head)-3), row.Verified)
				continue
			}
			cells := []string{p, fmtDur(row.LatencyMedian), fmtDur(row.LatencyP95), fmt.Sprintf("%.0f", row.Throughput), fmt.Sprintf("%.3g", row.TransfersPerS)}
			for _, ref := range refs {
				cells = append(cells, fmtX(r.SpeedupOver(ref, row)))
			}
			cells = append(cells, fmtDur(row.SenderCPU), fmtDur(row.ReceiverCPU), fmtBytes(row.SenderRSS), fmtBytes(row.ReceiverRSS), strconv.Itoa(row.Verified))
			b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
		}
	}
	if len(r.ColdStart) > 0 {
		b.WriteString("\nCold start per engine (excluded from the transfers): load = compile, check exports, first instance:\n\n")
		b.WriteString("| engine | module | empty cache | cached |\n|---|---|---:|---:|\n")
		for _, c := range r.ColdStart {
			if c.Error != "" {
				fmt.Fprintf(&b, "| %s %s | %s | failed: %s | |\n", c.Engine, c.Version, c.Module, c.Error)
				continue
			}
			fmt.Fprintf(&b, "| %s %s | %s | %s | %s |\n", c.Engine, c.Version, c.Module, fmtDur(c.ColdS), fmtDur(c.CachedS))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func fmtX(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return timesLabel(v)
}

// Files are the result files WriteFiles writes into a directory.
var Files = append([]string{"results.csv", "results-wide.csv", "results.md", "results.json"}, plotFiles()...)

func plotFiles() []string {
	var out []string
	for _, p := range Plots {
		out = append(out, p+".svg", p+".png")
	}
	return out
}

// WriteFiles writes every output into dir: the long and wide CSVs, the
// Markdown table, the JSON, and the plots.
func (r *Result) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, write := range map[string]func(io.Writer) error{
		"results.csv": r.WriteCSV, "results-wide.csv": r.WriteWideCSV,
		"results.md": r.WriteMarkdown, "results.json": r.WriteJSON,
	} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		err = write(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return r.WritePlots(dir)
}
