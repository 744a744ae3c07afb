package bench

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sampleResult is a result as Run makes it: two sizes, a path that ran, the
// baseline, a path unavailable with a reason.
func sampleResult() *Result {
	r := &Result{Sizes: []int64{1 << 20, 4 << 20}, Paths: []string{PathMemory, PathHTTPJSON, PathTCPSockmap}, Repeat: 3, Concurrency: 1}
	for _, s := range r.Sizes {
		f := float64(s) / (1 << 20)
		r.Rows = append(r.Rows,
			Row{SizeBytes: s, Path: PathMemory, Accel: "none", Available: true, Repeat: 3, Samples: 3, Verified: 5, Concurrency: 1,
				LatencyMedian: 1e-4 * f, LatencyP95: 2e-4 * f, LatencyMean: 1.5e-4 * f, Throughput: 1e4, TransfersPerS: 1e4 / f,
				SenderCPU: 1e-4 * f, ReceiverCPU: math.NaN(), TotalCPU: 1e-4 * f, SenderRSS: 80 << 20, PeakRSS: 80 << 20},
			Row{SizeBytes: s, Path: PathHTTPJSON, Available: true, Repeat: 3, Samples: 3, Verified: 5, Concurrency: 1,
				LatencyMedian: 0.1 * f, LatencyP95: 0.12 * f, LatencyMean: 0.11 * f, Throughput: 10, TransfersPerS: 10 / f,
				SenderCPU: 0.01 * f, ReceiverCPU: 0.08 * f, TotalCPU: 0.09 * f, SenderRSS: 70 << 20, ReceiverRSS: 90 << 20, PeakRSS: 90 << 20},
			Row{SizeBytes: s, Path: PathTCPSockmap, Accel: "sockmap", Repeat: 3, Concurrency: 1, Reason: "sockmap: not in this build"},
		)
	}
	return r
}

func TestWriteCSV(t *testing.T) {
	r := sampleResult()
	var b bytes.Buffer
	if err := r.WriteCSV(&b); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(b.Bytes())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1+len(r.Rows) || strings.Join(recs[0], ",") != strings.Join(LongColumns, ",") {
		t.Fatalf("csv:\n%s", b.String())
	}
	col := map[string]int{}
	for i, c := range recs[0] {
		col[c] = i
	}
	mem, sock := recs[1], recs[3]
	if mem[col["path"]] != PathMemory || mem[col["latency_median_s"]] != "0.0001" || mem[col["speedup_vs_http_json"]] != "1000" || mem[col["receiver_cpu_s"]] != "" {
		t.Errorf("memory row: %v", mem)
	}
	if mem[col["speedup_vs_http_raw"]] != "" { // no http-raw in this run
		t.Errorf("memory row, speed-up over an http-raw not measured: %q", mem[col["speedup_vs_http_raw"]])
	}
	if sock[col["available"]] != "false" || sock[col["reason"]] != "sockmap: not in this build" || sock[col["latency_median_s"]] != "" || sock[col["throughput_mib_s"]] != "" {
		t.Errorf("unavailable row has numbers or no reason: %v", sock)
	}
	if err := CheckCSV(bytes.NewReader(b.Bytes()), r.Paths, r.Sizes, false); err != nil {
		t.Errorf("CheckCSV refuses a good CSV: %v", err)
	}
}

func TestCheckCSVRefuses(t *testing.T) {
	write := func(r *Result) *bytes.Reader {
		var b bytes.Buffer
		if err := r.WriteCSV(&b); err != nil {
			t.Fatal(err)
		}
		return bytes.NewReader(b.Bytes())
	}
	cases := map[string]func(r *Result){
		"a path missing":            func(r *Result) { r.Rows = r.Rows[1:] },
		"a delivery failed":         func(r *Result) { r.Rows[0].Error = "benchsink: 1 payloads did not verify" },
		"fewer verified than timed": func(r *Result) { r.Rows[1].Verified = 1 },
		"unavailable, no reason":    func(r *Result) { r.Rows[2].Reason = "" },
	}
	for name, spoil := range cases {
		r := sampleResult()
		spoil(r)
		if err := CheckCSV(write(r), r.Paths, r.Sizes, false); err == nil {
			t.Errorf("%s: CheckCSV accepted it", name)
		}
	}
	r := sampleResult()
	if err := CheckCSV(write(r), AllPaths, r.Sizes, false); err == nil || !strings.Contains(err.Error(), "no row for socket-tcp") {
		t.Errorf("CheckCSV with every path asked = %v, want no row for socket-tcp", err)
	}
	if err := CheckCSV(strings.NewReader("size_bytes,path\n"), r.Paths, nil, false); err == nil {
		t.Error("CheckCSV accepted a CSV without the columns")
	}
}

// TestCheckCSVRequireAvailable: where every path must run (CI, as root, on
// a kernel with every accelerator), a row marked unavailable fails the
// check and the check names it; elsewhere it is fine with its reason.
func TestCheckCSVRequireAvailable(t *testing.T) {
	r := sampleResult() // tcp+sockmap unavailable at every size
	var b bytes.Buffer
	if err := r.WriteCSV(&b); err != nil {
		t.Fatal(err)
	}
	if err := CheckCSV(bytes.NewReader(b.Bytes()), r.Paths, r.Sizes, false); err != nil {
		t.Fatalf("an unavailable row with its reason, not required: %v", err)
	}
	err := CheckCSV(bytes.NewReader(b.Bytes()), r.Paths, r.Sizes, true)
	if err == nil || !strings.Contains(err.Error(), "tcp+sockmap: unavailable: sockmap: not in this build") {
		t.Errorf("an unavailable row where every path is required: %v; want it named with its reason", err)
	}
	for i := range r.Rows {
		r.Rows[i].Available, r.Rows[i].Reason = true, ""
		if r.Rows[i].Path == PathTCPSockmap {
			r.Rows[i] = r.Rows[i-1]
			r.Rows[i].Path, r.Rows[i].Accel = PathTCPSockmap, "sockmap"
		}
	}
	b.Reset()
	if err := r.WriteCSV(&b); err != nil {
		t.Fatal(err)
	}
	if err := CheckCSV(bytes.NewReader(b.Bytes()), r.Paths, r.Sizes, true); err != nil {
		t.Errorf("every row available, required: %v", err)
	}
}

func TestWriteFiles(t *testing.T) {
	r := sampleResult()
	dir := t.TempDir()
	if err := r.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range Files {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if len(data) == 0 {
			t.Errorf("%s: %d bytes", f, len(data))
		}
		switch filepath.Ext(f) {
		case ".svg":
			if !bytes.Contains(data, []byte("<svg")) || !bytes.Contains(data, []byte(PathMemory)) {
				t.Errorf("%s: not an SVG naming the paths", f)
			}
		case ".png":
			if !bytes.HasPrefix(data, []byte("\x89PNG")) {
				t.Errorf("%s: not a PNG", f)
			}
		}
	}
	wide, _ := os.ReadFile(filepath.Join(dir, "results-wide.csv"))
	want := "size_mb,memory,http-json,tcp+sockmap\n1,0.0001,0.1,\n4,0.0004,0.4,\n"
	if string(wide) != want {
		t.Errorf("wide CSV:\n%s\nwant:\n%s", wide, want)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "results.md"))
	if !bytes.Contains(md, []byte("| 4MiB | 400 µs | 400 ms | – |")) || !bytes.Contains(md, []byte("unavailable: sockmap: not in this build")) {
		t.Errorf("markdown:\n%s", md)
	}
	var j struct {
		Rows []map[string]any `json:"rows"`
	}
	data, _ := os.ReadFile(filepath.Join(dir, "results.json"))
	if err := json.Unmarshal(data, &j); err != nil {
		t.Fatal(err)
	}
	if len(j.Rows) != 6 || j.Rows[0]["receiver_cpu_s"] != nil || j.Rows[2]["latency_median_s"] != nil || j.Rows[0]["speedup_vs_http_json"] != 1000.0 {
		t.Errorf("json rows: %v", j.Rows)
	}
}

// TestPlotOneSize: one size gives a degenerate x range, which gonum
// widens linearly past zero on a log axis unless the ranges are set.
func TestPlotOneSize(t *testing.T) {
	r := sampleResult()
	r.Sizes = r.Sizes[:1]
	r.Rows = r.Rows[:3]
	if err := r.WritePlots(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	r.Rows = nil // nothing ran: the plots say so, and do not fail
	if err := r.WritePlots(t.TempDir()); err != nil {
		t.Fatal(err)
	}
}

// withHTTPRaw is sampleResult with an http-raw baseline: 10 ms per MiB at
// 1 MiB, failed at 4 MiB.
func withHTTPRaw() *Result {
	r := sampleResult()
	r.Paths = append(r.Paths, rawBaseline)
	r.Rows = append(r.Rows,
		Row{SizeBytes: 1 << 20, Path: rawBaseline, Available: true, Repeat: 3, Samples: 3, Verified: 5, Concurrency: 1,
			LatencyMedian: 0.01, LatencyP95: 0.012, LatencyMean: 0.011, Throughput: 100, TransfersPerS: 100,
			SenderCPU: 0.001, ReceiverCPU: 0.008, TotalCPU: 0.009, SenderRSS: 70 << 20, ReceiverRSS: 90 << 20, PeakRSS: 90 << 20},
		Row{SizeBytes: 4 << 20, Path: rawBaseline, Available: true, Repeat: 3, Concurrency: 1, Error: "rawsink: 1 payloads did not verify"},
	)
	return r
}

// TestSpeedupColumns: every row is held against http-raw and http-json by
// name, where the run has a number for them at that size, and left blank
// where it has not.
func TestSpeedupColumns(t *testing.T) {
	r := withHTTPRaw()
	var b bytes.Buffer
	if err := r.WriteCSV(&b); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, c := range recs[0] {
		col[c] = i
	}
	got := map[string]string{}
	for _, rec := range recs[1:] {
		got[rec[col["size_bytes"]]+" "+rec[col["path"]]] = rec[col["speedup_vs_http_raw"]] + " " + rec[col["speedup_vs_http_json"]]
	}
	for key, want := range map[string]string{
		"1048576 memory":      "100 1000", // 10 ms and 100 ms against 100 µs
		"1048576 http-json":   "0.1 1",
		"1048576 http-raw":    "1 10",
		"4194304 memory":      " 1000", // http-raw failed at 4 MiB
		"4194304 tcp+sockmap": " ",     // no number of its own
	} {
		if got[key] != want {
			t.Errorf("%s: speed-up over http-raw, http-json = %q, want %q", key, got[key], want)
		}
	}

	var md bytes.Buffer
	if err := r.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| path | median | p95 | MiB/s | transfers/s | × vs http-raw | × vs http-json | CPU/transfer sender |",
		"| 1MiB | http-raw | 100× |",
		"| 1MiB | http-json | 1000× |",
		"| 4MiB | http-raw | – |",
		"| memory | 400 µs | 800 µs | 10000 | 2.5e+03 | – | 1000× |",
		"| http-raw | FAILED: rawsink: 1 payloads did not verify |",
		"Strongest baseline (of the HTTP baselines a user would pick, the fastest at the most sizes; the socket loops are the floor of a socket, not a baseline): http-raw.",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown does not say %q:\n%s", want, md.String())
		}
	}
	checkTables(t, md.String())

	// Without http-raw in the run, no column for it.
	md.Reset()
	if err := sampleResult().WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(md.String(), "http-raw") || !strings.Contains(md.String(), "| × vs http-json |") {
		t.Errorf("markdown without http-raw:\n%s", md.String())
	}
	checkTables(t, md.String())

	var j struct {
		Rows []map[string]any `json:"rows"`
	}
	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js.Bytes(), &j); err != nil {
		t.Fatal(err)
	}
	if j.Rows[0]["speedup_vs_http_raw"] != 100.0 || j.Rows[3]["speedup_vs_http_raw"] != nil {
		t.Errorf("json: %v; %v", j.Rows[0], j.Rows[3])
	}
}

// checkTables fails unless every row of every Markdown table has as many
// cells as its header.
func checkTables(t *testing.T, md string) {
	t.Helper()
	cells := func(line string) int { return strings.Count(strings.ReplaceAll(line, "\\|", ""), "|") - 1 }
	want := 0
	for _, line := range strings.Split(md, "\n") {
		switch {
		case !strings.HasPrefix(line, "|"):
			want = 0
		case want == 0:
			want = cells(line)
		case cells(line) != want:
			t.Errorf("%d cells, the header has %d: %s", cells(line), want, line)
		}
	}
}
