package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/roadrunner-wasm/roadrunner/examples/pipeline/msg"
	"github.com/roadrunner-wasm/roadrunner/internal/nodeproc"
	"github.com/roadrunner-wasm/roadrunner/node"
)

func main() {
	var o options
	flag.StringVar(&o.rrnode, "rrnode", "build/rrnode", "the rrnode `binary` to run")
	flag.StringVar(&o.config, "config", "examples/pipeline.yaml", "the node's config `file`")
	flag.IntVar(&o.rounds, "rounds", 2, "push each size this many `times`: the first round grows the guests' memory, later ones reuse it")
	verbose := flag.Bool("v", false, "copy the node's log to standard error")
	flag.Parse()
	if flag.NArg() > 0 || o.rounds < 1 {
		flag.Usage()
		os.Exit(2)
	}
	if *verbose {
		o.nodeLog = os.Stderr
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

type options struct {
	rrnode, config string
	rounds         int
	nodeLog        io.Writer // receives the node's log, if not nil
}

// sizes are the payloads pushed through the pipeline.
var sizes = []int{1 << 10, 1 << 20, 64 << 20}

// pipelineHops is the number of hops of one invocation:
// http → producer → transform → consumer.
const pipelineHops = 3

// run runs the demo, printing to out. It returns an error if any transfer
// failed or the node did not stop cleanly; the summary line is printed
// either way once the node has started.
func run(ctx context.Context, o options, out io.Writer) error {
	version, err := exec.CommandContext(ctx, o.rrnode, "version").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s version: %w: %s", o.rrnode, err, bytes.TrimSpace(version))
	}
	fmt.Fprintf(out, "demo: %s\n", strings.Join(strings.Fields(strings.ReplaceAll(strings.TrimSpace(string(version)), "\n", "; ")), " "))
	fmt.Fprintln(out, "demo: paths in this build: http ingress, memory (one copy between guest memories, same node);")
	fmt.Fprintln(out, "demo: not built yet: unix, tcp, io_uring, sockmap")

	node, err := nodeproc.Start(ctx, &nodeproc.Options{Binary: o.rrnode, Config: o.config, Output: o.nodeLog})
	if err != nil {
		return err
	}
	defer node.Stop() // on a panic; the normal path stops it below
	fmt.Fprintf(out, "demo: node started at %s with %s\n", node.URL(), o.config)

	client := &http.Client{Timeout: 2 * time.Minute}
	var ok, failed int
	for round := 1; round <= max(o.rounds, 1); round++ {
		switch round {
		case 1:
			fmt.Fprintln(out, "\ndemo: round 1, cold: each payload is the first of its size, so its times include")
			fmt.Fprintln(out, "demo: growing the guests' memory (fresh pages fault in)")
		default:
			fmt.Fprintf(out, "\ndemo: round %d, warm: the guests reuse the buffers round 1 grew\n", round)
		}
		for _, size := range sizes {
			if ctx.Err() != nil {
				break
			}
			v, f := invoke(ctx, client, node.URL(), size, out)
			ok += v
			failed += f
		}
	}

	fmt.Fprintln(out, "\ndemo: transfer = until the payload sat in the receiver's memory; total = until its")
	fmt.Fprintln(out, "demo: handler returned (guest compute included); go test -bench MemoryPath ./node/ measures transfers alone")
	status, stopErr := node.Stop()
	fmt.Fprintf(out, "demo: node stopped, exit status %d\n", status)
	if stopErr != nil {
		fmt.Fprintln(out, "demo:", stopErr)
	}
	fmt.Fprintf(out, "demo: %d transfers verified, %d failed\n", ok, failed)
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case failed > 0:
		if o.nodeLog == nil {
			fmt.Fprintf(out, "demo: the node's log:\n%s", node.Output())
		}
		return fmt.Errorf("%d transfers failed", failed)
	case stopErr != nil:
		return errors.New("the node did not stop cleanly")
	}
	return nil
}

// hop is one element of the Rr-Trace trailer, as the node defines it.
type hop = node.Hop

// invoke pushes one payload of size bytes through the pipeline, prints a
// line for the invocation and one per hop, and returns how many hops were
// verified and how many failed.
func invoke(ctx context.Context, client *http.Client, base string, size int, out io.Writer) (verified, failed int) {
	payload := pattern(size)
	crc := msg.Checksum(payload)

	start := time.Now()
	res, err := post(ctx, client, base+"/v1/functions/producer", payload)
	elapsed := time.Since(start)

	// The invocation is verified if the consumer's answer matches what
	// was sent; each hop also needs its own result to be ok.
	var problem string
	switch {
	case err != nil:
		problem = err.Error()
	case res.status != http.StatusOK:
		problem = fmt.Sprintf("status %d: %s", res.status, bytes.TrimSpace(res.body))
	case res.rrError != "":
		problem = "Rr-Error: " + res.rrError
	case res.traceErr != nil:
		problem = "Rr-Trace: " + res.traceErr.Error()
	default:
		problem = checkReport(res.report, size, crc, res.trace)
	}
	fmt.Fprintf(out, "\n%s: POST /v1/functions/producer, %d bytes, crc32c %s: ", human(size), size, msg.FormatCRC(crc))
	if err != nil {
		fmt.Fprintf(out, "%s\n", problem)
	} else {
		fmt.Fprintf(out, "status %d in %s; consumer: %s\n", res.status, round(elapsed), bytes.TrimSpace(res.body))
	}

	for i, h := range res.trace {
		verdict := "verified"
		switch {
		case h.Result != "ok":
			verdict = "FAILED: " + h.Result
		case problem != "":
			verdict = "FAILED: " + problem
		case h.Bytes != expectedBytes(h, size):
			verdict = fmt.Sprintf("FAILED: %d bytes, want %d", h.Bytes, expectedBytes(h, size))
		case i >= pipelineHops:
			verdict = "FAILED: unexpected hop"
		}
		if verdict == "verified" {
			verified++
		} else {
			failed++
		}
		fmt.Fprintf(out, "  hop %-22s path %-6s %10d bytes  transfer %9s  total %9s  %s\n",
			h.From+" → "+h.To, h.Path, h.Bytes,
			round(time.Duration(h.TransferNS)), round(time.Duration(h.TotalNS)), verdict)
	}
	if missing := pipelineHops - len(res.trace); missing > 0 {
		fmt.Fprintf(out, "  %d of %d hops missing from the trace: FAILED\n", missing, pipelineHops)
		failed += missing
	}
	return verified, failed
}

// expectedBytes is what a hop of the pipeline carries: the payload on the
// ingress hop, a message (header and payload) on the others.
func expectedBytes(h hop, size int) uint64 {
	if h.Path == "http" {
		return uint64(size)
	}
	return uint64(msg.HeaderSize + size)
}

// checkReport returns why the consumer's report does not verify the payload
// sent, or "".
func checkReport(r msg.Report, size int, crc uint32, trace []hop) string {
	memoryHops := 0
	for _, h := range trace {
		if h.Path != "http" {
			memoryHops++
		}
	}
	switch {
	case !r.Verified:
		return "consumer: not verified: " + r.Reason
	case r.Bytes != uint64(size):
		return fmt.Sprintf("consumer saw %d bytes, %d were sent", r.Bytes, size)
	case r.CRC32C != msg.FormatCRC(crc):
		return fmt.Sprintf("consumer saw crc32c %s, %s was sent", r.CRC32C, msg.FormatCRC(crc))
	case r.Hops != memoryHops:
		return fmt.Sprintf("message counted %d hops, the trace %d", r.Hops, memoryHops)
	}
	return ""
}

type result struct {
	status   int
	body     []byte
	report   msg.Report
	trace    []hop
	traceErr error
	rrError  string
}

// post sends payload and reads the whole answer, then the trailers.
func post(ctx context.Context, client *http.Client, url string, payload []byte) (result, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return result{}, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := client.Do(req)
	if err != nil {
		return result{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return result{}, fmt.Errorf("read reply: %w", err)
	}
	res := result{status: resp.StatusCode, body: body}
	// Trailers are there once the body has been read to its end; an answer
	// without a reply (an error, 204) carries the trace as a header.
	trace := resp.Trailer.Get(node.HeaderTrace)
	if trace == "" {
		trace = resp.Header.Get(node.HeaderTrace)
	}
	res.rrError = resp.Trailer.Get(node.HeaderError)
	if trace == "" {
		res.traceErr = errors.New("missing")
	} else if err := json.Unmarshal([]byte(trace), &res.trace); err != nil {
		res.traceErr = err
	}
	if res.status == http.StatusOK {
		if err := json.Unmarshal(body, &res.report); err != nil {
			return res, fmt.Errorf("consumer reply %q: %w", body, err)
		}
	}
	return res, nil
}

// pattern returns n deterministic bytes: a splitmix64 stream seeded by n.
func pattern(n int) []byte {
	b := make([]byte, n+7)
	s := uint64(n)
	for i := 0; i < n; i += 8 {
		s += 0x9e3779b97f4a7c15
		z := s
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		binary.LittleEndian.PutUint64(b[i:], z^z>>31)
	}
	return b[:n:n]
}

func human(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// round keeps three significant digits of d.
func round(d time.Duration) time.Duration {
	for r := time.Duration(1); r < time.Hour; r *= 10 {
		if d < 1000*r {
			return d.Round(r)
		}
	}
	return d.Round(time.Second)
}
