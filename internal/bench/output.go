package bench

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// LongColumns are the long CSV's columns, one row per size and path.
var LongColumns = []string{
	"size_bytes", "path", "accel", "available", "reason", "error", "repeat", "samples", "verified", "concurrency",
	"latency_median_s", "latency_p95_s", "latency_mean_s", "throughput_mib_s", "transfers_per_s",
	"sender_cpu_s", "receiver_cpu_s", "total_cpu_s",
	"peak_rss_bytes", "sender_peak_rss_bytes", "receiver_peak_rss_bytes", "startup_s", "speedup_vs_http_json", "notes",
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
func (r *Result) Speedup(row *Row) float64 {
	base := r.Row(row.SizeBytes, Baseline)
	if base == nil || !base.ok() || !row.ok() {
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
				num(row.StartupS), num(r.Speedup(row)), row.Notes)
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
			Speedup: ptr(ok, r.Speedup(row)),
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
	switch {
	case math.IsNaN(s):
		return "–"
	case s >= 1:
		return fmt.Sprintf("%.3g s", s)
	case s >= 1e-3:
		return fmt.Sprintf("%.3g ms", s*1e3)
	}
	return fmt.Sprintf("%.3g µs", s*1e6)
}

func fmtBytes(n int64) string {
	if n == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
}

// WriteMarkdown writes the results as Markdown: the median latency of
// every path at every size, then one table per size with everything.
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
	for _, s := range r.Sizes {
		fmt.Fprintf(&b, "\n%s (concurrency %d):\n\n", SizeName(s), r.Concurrency)
		b.WriteString("| path | median | p95 | MiB/s | transfers/s | × http-json | CPU/transfer sender | receiver | peak RSS sender | receiver | verified |\n")
		b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, p := range r.Paths {
			row := r.Row(s, p)
			if row == nil {
				continue
			}
			if !row.ok() {
				why := row.Reason
				if row.Error != "" {
					why = "FAILED: " + row.Error
				}
				fmt.Fprintf(&b, "| %s | unavailable: %s |||||||||| %d |\n", p, strings.ReplaceAll(why, "|", "\\|"), row.Verified)
				continue
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %.0f | %.3g | %s | %s | %s | %s | %s | %d |\n", p,
				fmtDur(row.LatencyMedian), fmtDur(row.LatencyP95), row.Throughput, row.TransfersPerS, fmtX(r.Speedup(row)),
				fmtDur(row.SenderCPU), fmtDur(row.ReceiverCPU), fmtBytes(row.SenderRSS), fmtBytes(row.ReceiverRSS), row.Verified)
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
	return fmt.Sprintf("%.3g×", v)
}

// Files are the result files WriteFiles writes into a directory.
var Files = []string{"results.csv", "results-wide.csv", "results.md", "results.json",
	"latency.svg", "latency.png", "speedup.svg", "speedup.png"}

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
