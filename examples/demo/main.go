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
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
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
// http → producer → transform → consumer. The first node's trace lists all
// three: with the pipeline split, the transform → consumer hop comes back
// from the node that made it (in a HOPS frame), marked with its name.
const pipelineHops = 3

// setup is one arrangement of the pipeline's functions over nodes.
type setup struct {
	title string
	path  string // "" for one node; "unix" or "tcp" for two nodes
	accel string // --accel of both nodes; "" for the default
}

var setups = []setup{
	{"one node: producer → transform → consumer on the memory path", "", ""},
	{"two nodes on this host: producer | transform → consumer, over the unix path", "unix", ""},
	{"two nodes over tcp (loopback): producer | transform → consumer, over the tcp path, plain syscalls (--accel none)", "tcp", "none"},
	{"the same over tcp with --accel iouring (payloads of 4 MiB and more through io_uring; plain syscalls where refused)", "tcp", "iouring"},
	{"the same over tcp with --accel sockmap (the host's eBPF sockmap hands every message straight to the peer socket, skipping TCP; plain TCP where refused: it needs root)", "tcp", "sockmap"},
}

// run runs the demo, printing to out. It returns an error if any transfer
// failed or a node did not stop cleanly; the summary line is printed
// either way once the first node has started.
func run(ctx context.Context, o options, out io.Writer) error {
	version, err := exec.CommandContext(ctx, o.rrnode, "version").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s version: %w: %s", o.rrnode, err, bytes.TrimSpace(version))
	}
	fmt.Fprintf(out, "demo: %s\n", strings.Join(strings.Fields(strings.ReplaceAll(strings.TrimSpace(string(version)), "\n", "; ")), " "))
	fmt.Fprintln(out, "demo: paths in this build: http ingress, memory (one copy between guest memories, same node),")
	fmt.Fprintln(out, "demo: unix (same host) and tcp (writev, or vmsplice+splice), io_uring on both, the eBPF sockmap on tcp,")
	fmt.Fprintln(out, "demo: shm (one copy between nodes of a host; not shown here: see docs/BENCHMARKS.md)")
	probe, err := exec.CommandContext(ctx, o.rrnode, "probe").CombinedOutput()
	if err == nil {
		fmt.Fprintf(out, "demo: rrnode probe:\n%s", indent(string(probe)))
	}

	dir, err := os.MkdirTemp("", "rr-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	var ok, failed int
	var stopErrs []error
	for _, st := range setups {
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(out, "\n==== %s\n", st.title)
		v, f, err := runSetup(ctx, o, st, dir, out)
		ok += v
		failed += f
		if err != nil {
			fmt.Fprintln(out, "demo:", err)
			stopErrs = append(stopErrs, err)
		}
	}
	fmt.Fprintln(out, "\ndemo: transfer = until the payload sat in the receiver's memory (on unix and tcp: until the")
	fmt.Fprintln(out, "demo: sender handed its last byte to the kernel); total = until the receiver's handler returned")
	fmt.Fprintln(out, "demo: (guest compute included); go test -bench MemoryPath ./node/ and -bench Paths ./transport/")
	fmt.Fprintln(out, "demo: measure transfers alone")
	fmt.Fprintf(out, "demo: %d transfers verified, %d failed\n", ok, failed)
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case failed > 0:
		return fmt.Errorf("%d transfers failed", failed)
	case len(stopErrs) > 0:
		return errors.Join(stopErrs...)
	}
	return nil
}

// runSetup starts the nodes of st, pushes every size through the pipeline
// o.rounds times, and stops the nodes.
func runSetup(ctx context.Context, o options, st setup, dir string, out io.Writer) (verified, failed int, err error) {
	configs := []string{o.config}
	if st.path != "" {
		configs, err = splitConfigs(o.config, st.path, dir)
		if err != nil {
			return 0, 0, err
		}
	}
	// The node hosting the receivers starts first: the other dials it.
	var nodes []*nodeproc.Node
	defer func() {
		for _, n := range nodes {
			n.Stop() // on an early return; the normal path stops them below
		}
	}()
	for i := len(configs) - 1; i >= 0; i-- {
		// A first start compiles the modules (seconds each on a slow
		// machine, more under the race detector) before /readyz answers 200.
		var args []string
		if st.accel != "" {
			args = []string{"--accel", st.accel}
		}
		n, err := nodeproc.Start(ctx, &nodeproc.Options{Binary: o.rrnode, Config: configs[i], Args: args, Output: o.nodeLog, StartTimeout: 5 * time.Minute})
		if err != nil {
			return 0, 0, err
		}
		nodes = append([]*nodeproc.Node{n}, nodes...)
		fmt.Fprintf(out, "demo: node started at %s with %s\n", n.URL(), configs[i])
	}
	client := &http.Client{Timeout: 2 * time.Minute}
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
			v, f := invoke(ctx, client, nodes[0].URL(), size, pipelineHops, out)
			verified += v
			failed += f
		}
	}
	if st.path != "" {
		printMechanism(ctx, client, nodes[0].URL(), out)
	}
	var errs []error
	for i, n := range nodes {
		status, stopErr := n.Stop()
		fmt.Fprintf(out, "demo: node %d stopped, exit status %d\n", i+1, status)
		if stopErr != nil {
			errs = append(errs, stopErr)
		}
		if failed > 0 && o.nodeLog == nil {
			fmt.Fprintf(out, "demo: node %d's log:\n%s", i+1, n.Output())
		}
	}
	nodes = nil
	return verified, failed, errors.Join(errs...)
}

// splitConfigs writes two node configs into dir from the one-node config:
// "edge" hosts the producer and has "back" as its peer over path; "back"
// hosts the transform and the consumer and listens on path. It returns
// their files, edge first.
func splitConfigs(config, path, dir string) ([]string, error) {
	cfg, err := node.LoadConfig(config)
	if err != nil {
		return nil, err
	}
	fn := map[string]node.FunctionConfig{}
	for _, f := range cfg.Functions {
		if f.Module, err = filepath.Abs(f.Module); err != nil {
			return nil, err
		}
		fn[f.Name] = f
	}
	var listen, address string
	switch path {
	case "unix":
		sock := filepath.Join(dir, "back.sock")
		listen, address = "    unix: "+sock, "unix://"+sock
	case "tcp":
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		addr := l.Addr().String()
		l.Close()
		listen, address = "    tcp: "+addr, "tcp://"+addr
	}
	function := func(name string) string {
		f := fn[name]
		return fmt.Sprintf("  - name: %s\n    module: %s\n    pool: %d\n", name, f.Module, f.Pool)
	}
	head := fmt.Sprintf("node:\n  name: %%s\n  max_payload: %d\n  invocation_timeout: %s\n  drain_delay: 0\n", cfg.Node.MaxPayload, cfg.Node.InvocationTimeout)
	back := fmt.Sprintf(head, "back") + "  listen:\n" + listen + "\nfunctions:\n" + function("transform") + function("consumer")
	edge := fmt.Sprintf(head, "edge") + "functions:\n" + function("producer") +
		"peers:\n  - name: back\n    address: " + address + "\n    functions: [transform, consumer]\n"
	files := []string{filepath.Join(dir, path+"-edge.yaml"), filepath.Join(dir, path+"-back.yaml")}
	for i, text := range []string{edge, back} {
		if err := os.WriteFile(files[i], []byte(text), 0o644); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// printMechanism prints the sending node's metrics about its peer: which
// mechanism it sends with, its accelerators, and its fallbacks.
func printMechanism(ctx context.Context, client *http.Client, base string, out io.Writer) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return
	}
	resp, err := client.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if (strings.HasPrefix(line, "rr_tcp_mechanism{") && strings.HasSuffix(line, " 1")) ||
			strings.HasPrefix(line, "rr_fallbacks_total{") ||
			strings.HasPrefix(line, "rr_accel{") ||
			strings.HasPrefix(line, "rr_zerocopy_copied_total ") ||
			strings.HasPrefix(line, "rr_sockmap_sockets ") ||
			strings.HasPrefix(line, "rr_sockmap_redirected_bytes_total ") ||
			(strings.HasPrefix(line, "rr_transfers_total{") && !strings.HasSuffix(line, " 0")) {
			fmt.Fprintf(out, "demo: edge node metric: %s\n", line)
		}
	}
}

func indent(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("demo:   " + line + "\n")
	}
	return b.String()
}

// hop is one element of the Rr-Trace trailer, as the node defines it.
type hop = node.Hop

// invoke pushes one payload of size bytes through the pipeline, prints a
// line for the invocation and one per hop, and returns how many hops were
// verified and how many failed.
func invoke(ctx context.Context, client *http.Client, base string, size, wantHops int, out io.Writer) (verified, failed int) {
	payload := pattern(size)
	crc := msg.Checksum(payload)

	start := time.Now()
	res, err := post(ctx, client, base+"/v1/functions/producer", payload)
	elapsed := time.Since(start)

	v := verify(res, err, size, crc, wantHops)
	fmt.Fprintf(out, "\n%s: POST /v1/functions/producer, %d bytes, crc32c %s: ", human(size), size, msg.FormatCRC(crc))
	if err != nil {
		fmt.Fprintf(out, "%s\n", v.problem)
	} else {
		fmt.Fprintf(out, "status %d in %s; consumer: %s\n", res.status, round(elapsed), bytes.TrimSpace(res.body))
	}
	for i, h := range res.trace {
		where := h.Path
		if h.Node != "" {
			where += " on " + h.Node
		}
		fmt.Fprintf(out, "  hop %-22s path %-14s %10d bytes  transfer %9s  total %9s  %s\n",
			h.From+" → "+h.To, where, h.Bytes,
			round(time.Duration(h.TransferNS)), round(time.Duration(h.TotalNS)), v.hops[i])
	}
	if v.missing > 0 {
		fmt.Fprintf(out, "  %d of %d hops missing from the trace: FAILED\n", v.missing, wantHops)
	}
	return v.verified(), v.failed()
}

// verdict is the demo's judgement of one invocation.
type verdict struct {
	problem string   // why the invocation as a whole failed, or ""
	hops    []string // per hop of the trace: "verified" or "FAILED: why"
	missing int      // hops the trace lacks
}

func (v verdict) verified() int {
	n := 0
	for _, h := range v.hops {
		if h == "verified" {
			n++
		}
	}
	return n
}

// failed counts the hops that failed, those missing included.
func (v verdict) failed() int { return len(v.hops) - v.verified() + v.missing }

// verify judges the answer res (err: post's) to an invocation that sent
// size bytes with checksum crc through wantHops hops. The invocation is
// verified if the consumer's answer matches what was sent; each hop also
// needs its own result to be ok and to have carried the bytes it should.
func verify(res result, err error, size int, crc uint32, wantHops int) verdict {
	var v verdict
	switch {
	case err != nil:
		v.problem = err.Error()
	case res.status != http.StatusOK:
		v.problem = fmt.Sprintf("status %d: %s", res.status, bytes.TrimSpace(res.body))
	case res.rrError != "":
		v.problem = "Rr-Error: " + res.rrError
	case res.traceErr != nil:
		v.problem = "Rr-Trace: " + res.traceErr.Error()
	default:
		v.problem = checkReport(res.report, size, crc)
	}
	for i, h := range res.trace {
		verdict := "verified"
		switch {
		case h.Result != "ok":
			verdict = "FAILED: " + h.Result
		case v.problem != "":
			verdict = "FAILED: " + v.problem
		case h.Bytes != expectedBytes(h, size):
			verdict = fmt.Sprintf("FAILED: %d bytes, want %d", h.Bytes, expectedBytes(h, size))
		case i >= wantHops:
			verdict = "FAILED: unexpected hop"
		}
		v.hops = append(v.hops, verdict)
	}
	v.missing = max(0, wantHops-len(res.trace))
	return v
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
func checkReport(r msg.Report, size int, crc uint32) string {
	switch {
	case !r.Verified:
		return "consumer: not verified: " + r.Reason
	case r.Bytes != uint64(size):
		return fmt.Sprintf("consumer saw %d bytes, %d were sent", r.Bytes, size)
	case r.CRC32C != msg.FormatCRC(crc):
		return fmt.Sprintf("consumer saw crc32c %s, %s was sent", r.CRC32C, msg.FormatCRC(crc))
	case r.Hops != pipelineHops-1:
		return fmt.Sprintf("message counted %d hops, want %d", r.Hops, pipelineHops-1)
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
