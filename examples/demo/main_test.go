package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/examples/pipeline/msg"
	"github.com/roadrunner-wasm/roadrunner/internal/wasmbuild"
	"github.com/roadrunner-wasm/roadrunner/node"
)

func TestMain(m *testing.M) {
	code := m.Run()
	wasmbuild.Cleanup()
	os.Exit(code)
}

const module = "github.com/roadrunner-wasm/roadrunner/"

// pipelineNode serves the example pipeline in this process, its consumer
// running the guest package consumer, and returns its base URL.
func pipelineNode(t *testing.T, consumer string) string {
	t.Helper()
	cfg := "node:\n  max_payload: 16MiB\n  invocation_timeout: 5m\nfunctions:\n"
	for _, f := range [][2]string{{"producer", "examples/producer"}, {"transform", "examples/transform"}, {"consumer", consumer}} {
		cfg += fmt.Sprintf("  - {name: %s, module: %q, pool: 1}\n", f[0], wasmbuild.ForTest(t, module+f[1]))
	}
	file := filepath.Join(t.TempDir(), "pipeline.yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := node.LoadConfig(file)
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.New(context.Background(), c, &node.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go n.Serve(ln)
	t.Cleanup(func() { n.Shutdown(context.Background()) })
	return "http://" + ln.Addr().String()
}

// TestVerify judges real answers of the pipeline: one that verifies, and
// the same answer held against what a corrupted or resized transfer would
// have delivered (another payload's checksum, another length, a hop that
// carried a byte less, a hop too many or too few): each must count as
// failed, never as verified.
func TestVerify(t *testing.T) {
	base := pipelineNode(t, "examples/consumer")
	client := &http.Client{Timeout: 5 * time.Minute}
	const size = 1 << 20
	payload := pattern(size)
	crc := msg.Checksum(payload)
	res, err := post(context.Background(), client, base+"/v1/functions/producer", payload)
	if err != nil {
		t.Fatal(err)
	}
	if v := verify(res, err, size, crc, pipelineHops); v.problem != "" || v.verified() != pipelineHops || v.failed() != 0 {
		t.Fatalf("a good answer: %+v; want %d hops verified", v, pipelineHops)
	}

	other := pattern(size + 1)[:size] // the same length, other bytes
	for _, c := range []struct {
		name        string
		res         result
		size        int
		crc         uint32
		hops        int
		want        string
		failed, ver int
	}{
		{"another payload's crc32c", res, size, msg.Checksum(other), pipelineHops, "consumer saw crc32c " + msg.FormatCRC(crc), 3, 0},
		{"a byte more was sent", res, size + 1, crc, pipelineHops, fmt.Sprintf("consumer saw %d bytes, %d were sent", size, size+1), 3, 0},
		{"a hop carried a byte less", withHop(res, 1, func(h *hop) { h.Bytes-- }), size, crc, pipelineHops,
			fmt.Sprintf("FAILED: %d bytes, want %d", msg.HeaderSize+size-1, msg.HeaderSize+size), 1, 2},
		{"a hop failed", withHop(res, 2, func(h *hop) { h.Result = "receiver_failed" }), size, crc, pipelineHops, "FAILED: receiver_failed", 1, 2},
		{"a hop too many", res, size, crc, pipelineHops - 1, "FAILED: unexpected hop", 1, 2},
		{"a hop missing", res, size, crc, pipelineHops + 1, "", 1, 3},
	} {
		v := verify(c.res, nil, c.size, c.crc, c.hops)
		if v.failed() != c.failed || v.verified() != c.ver || !strings.Contains(v.problem+strings.Join(v.hops, "\n"), c.want) {
			t.Errorf("%s: %+v; want %d failed, %d verified, saying %q", c.name, v, c.failed, c.ver, c.want)
		}
	}
	if v := verify(result{}, fmt.Errorf("connection refused"), size, crc, pipelineHops); v.failed() != pipelineHops || v.problem != "connection refused" {
		t.Errorf("no answer: %+v; want every hop missing", v)
	}
}

// withHop returns res with a copy of its trace in which hop i is changed.
func withHop(res result, i int, change func(*hop)) result {
	res.trace = append([]hop(nil), res.trace...)
	change(&res.trace[i])
	return res
}

// TestVerifyFailedConsumer: a pipeline whose consumer fails (a guest that
// refuses the message) is answered with an error; no hop may count as
// verified.
func TestVerifyFailedConsumer(t *testing.T) {
	base := pipelineNode(t, "node/testdata/relay") // relay refuses what is not one of its commands
	client := &http.Client{Timeout: 5 * time.Minute}
	const size = 4096
	payload := pattern(size)
	res, err := post(context.Background(), client, base+"/v1/functions/producer", payload)
	v := verify(res, err, size, msg.Checksum(payload), pipelineHops)
	if v.verified() != 0 || v.failed() != pipelineHops {
		t.Errorf("consumer failed: status %d, body %q, Rr-Error %q, trace %+v: judged %+v; want every hop failed", res.status, res.body, res.rrError, res.trace, v)
	}
	var consumerHop string
	for i, h := range res.trace {
		if h.To == "consumer" {
			consumerHop = v.hops[i]
		}
	}
	if !strings.HasPrefix(consumerHop, "FAILED: ") || strings.Contains(consumerHop, " ok") {
		t.Errorf("the hop to the failed consumer: %q; want FAILED with its result", consumerHop)
	}
}
