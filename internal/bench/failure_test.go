package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestFailedDeliveryFailsTheRow runs a group of paths as rrnode bench does
// (real rrnode nodes and agents, the real benchsrc and benchsink guests),
// then makes every receiver refuse a delivery for real: the sequence
// numbers are rewound, so that each receiver is handed again a payload it
// has verified already, which it must refuse as delivered twice. Each path
// must then be marked failed with the receiver's reason, keep no numbers,
// and fail the smoke check; none may pass as measured.
func TestFailedDeliveryFailsTheRow(t *testing.T) {
	const size = 4096
	paths := []string{PathMemory, PathSocketUnix, PathNativeHTTP, PathNativeHTTPJSON, PathHTTPRaw}
	o := &Options{
		Sizes: []int64{size}, Paths: paths, Repeat: 1, Warmup: 1, Batch: 2,
		Rrnode: rrnodeForTest(t), WasmDir: wasmDirForTest(t, "benchsrc", "benchsink", "rawsrc", "rawsink"), CacheDir: t.TempDir(),
	}
	if err := o.setDefaults(); err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	o.Progress = &progress
	rows := map[string]*Row{}
	for _, p := range paths {
		rows[p] = &Row{SizeBytes: size, Path: p, Available: true, Repeat: o.Repeat, Concurrency: o.Concurrency}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	// runGroup's steps, with the rewind between the warm-up and the
	// repetition.
	g := newGroup(o, size, t.TempDir(), rows, newProgress(o, paths, time.Now()))
	defer g.stop(ctx)
	if err := g.start(ctx, paths); err != nil {
		t.Fatal(err)
	}
	g.warmUp(ctx)
	for _, p := range paths {
		if r := rows[p]; r.Error != "" || r.Verified != 1 {
			t.Fatalf("%s: warm-up: %d verified, error %q; want 1 verified\nprogress:\n%s", p, r.Verified, r.Error, &progress)
		}
		g.states[p].seq[0] = 1 // the warm-up's payload again
	}
	if err := g.repetition(ctx, 0); err != nil {
		t.Fatal(err)
	}
	g.record(ctx)

	res := &Result{Sizes: o.Sizes, Paths: paths, Repeat: o.Repeat, Concurrency: o.Concurrency}
	for _, p := range paths {
		r := rows[p]
		res.Rows = append(res.Rows, *r)
		// Each receiver's own words: benchsink's record, the socket
		// receiver's ACK status, the HTTP receiver's and rawsink's
		// verdicts.
		want := map[string]string{
			PathMemory:         "benchsink: 1 payloads did not verify: seq 1 after seq 1",
			PathSocketUnix:     "seq 1: the receiver did not verify the payload",
			PathNativeHTTP:     "the receiver did not verify the payload: seq 1 after seq 1",
			PathNativeHTTPJSON: "the receiver did not verify the payload: seq 1 after seq 1",
			PathHTTPRaw:        "the receiver did not verify the payload: seq 1 after seq 1",
		}[p]
		if !strings.Contains(r.Error, want) {
			t.Errorf("%s: row error %q, want it to say %q", p, r.Error, want)
		}
		if r.ok() || r.Samples != 0 || r.LatencyMedian != 0 || r.Verified != 1 {
			t.Errorf("%s: a failed path has numbers: ok %v, %d samples, median %v, %d verified", p, r.ok(), r.Samples, r.LatencyMedian, r.Verified)
		}
		if !strings.Contains(progress.String(), "bench: 4KiB "+p+" FAILED: ") {
			t.Errorf("%s: the progress does not say it failed:\n%s", p, &progress)
		}
	}
	if n := res.Failed(); n != len(paths) {
		t.Errorf("Result.Failed() = %d, want %d", n, len(paths))
	}
	var csv bytes.Buffer
	if err := res.WriteCSV(&csv); err != nil {
		t.Fatal(err)
	}
	if err := CheckCSV(&csv, paths, o.Sizes, false); err == nil || !strings.Contains(err.Error(), "memory: failed: benchsink") {
		t.Errorf("CheckCSV of the failed rows: %v; want the memory row's failure", err)
	}
}
