package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/roadrunner-wasm/roadrunner/internal/nodeproc"
	"github.com/roadrunner-wasm/roadrunner/node"
	"github.com/roadrunner-wasm/roadrunner/transport"
)

// pathRun is one path set up for one size: its processes are running.
type pathRun interface {
	// batch makes count transfers on pair (0..Concurrency-1), sequence
	// numbers from seq. It calls done (if not nil) as soon as the transfers
	// are over, before it collects the receiver's records, so that the
	// caller's CPU readings leave that out.
	batch(ctx context.Context, pair int, seq uint64, count int, done func()) (batchOut, error)
	// procs are the path's processes: the sender first, then the receiver
	// if it is another process.
	procs() []int
	// notes says what a reader of the results should know about the run
	// (fallbacks counted by the nodes), or "".
	notes(ctx context.Context) string
	stop() error
}

// batchOut is what a batch measured.
type batchOut struct {
	lat []time.Duration // per transfer, the receiver's verification subtracted
	// The verification's CPU (or, for guests, wall) time, to subtract from
	// the sending and the receiving process's CPU.
	sendVerify, recvVerify time.Duration
}

// accelOf is the --accel of a Roadrunner path's nodes, "" for a baseline.
func accelOf(path string) string {
	switch path {
	case PathUnix, PathTCP:
		return "none"
	case PathUnixIOURing, PathTCPIOURing:
		return "iouring"
	case PathTCPSockmap:
		return "sockmap"
	case PathShm:
		return "shm"
	case PathMemory:
		return "none"
	}
	return ""
}

// memoryNeed estimates the memory a path's processes take at size n, for
// grouping paths so that one group fits in memory.
func memoryNeed(path string, n int64) int64 {
	const proc = 64 << 20
	switch path {
	case PathMemcpy:
		return 2*n + proc
	case PathSocketUnix, PathSocketTCP:
		return 2*n + 2*proc
	case PathNativeHTTP:
		return 2*n + 2*proc
	case PathNativeHTTPJSON:
		return 6*n + 2*proc
	case PathHTTPJSON:
		return 10*n + 2*proc
	}
	return 4*n + 2*proc // two guests, each n and the Go heap's slack
}

// env is what a size's paths share.
type env struct {
	o      *Options
	size   int64
	dir    string // a fresh temporary directory
	client *http.Client
}

func (e *env) module(name string) string { return filepath.Join(e.o.WasmDir, name+".wasm") }

// maxPayload is the nodes' max_payload: the payload, or its JSON.
func (e *env) maxPayload() int64 {
	return min(int64(node.MaxPayloadLimit-1), max(256<<20, e.size*4/3+4<<20))
}

func (e *env) nodeHead(name string) string {
	return fmt.Sprintf("node:\n  name: %s\n  max_payload: %d\n  invocation_timeout: 1h\n  drain_timeout: 10s\n  drain_delay: 0\n  cache_dir: %q\n", name, e.maxPayload(), e.o.CacheDir)
}

func fnLines(prefix, module string, pairs int) string {
	var b strings.Builder
	for i := range pairs {
		fmt.Fprintf(&b, "  - {name: %s%d, module: %q, pool: 1, interruptible: false, recycle_memory: 4GiB}\n", prefix, i, module)
	}
	return b.String()
}

// sharedLines are fnLines with shared_memory: the receivers of the shm
// path.
func sharedLines(prefix, module string, pairs int) string {
	return strings.ReplaceAll(fnLines(prefix, module, pairs), "interruptible: false}", "interruptible: false, shared_memory: true}")
}

// authLines is node.auth with a fresh key file in e.dir: the shm path
// runs only between nodes that authenticate each other.
func (e *env) authLines() (string, error) {
	file := filepath.Join(e.dir, "keys")
	if err := os.WriteFile(file, []byte(transport.GenerateKey()+"\n"), 0o600); err != nil {
		return "", err
	}
	return "  auth: {keys: " + strconv.Quote(file) + "}\n", nil
}

func names(prefix string, pairs int) string {
	var s []string
	for i := range pairs {
		s = append(s, prefix+strconv.Itoa(i))
	}
	return strings.Join(s, ", ")
}

func (e *env) startNode(ctx context.Context, name, config string, args ...string) (*nodeproc.Node, error) {
	file := filepath.Join(e.dir, name+".yaml")
	if err := os.WriteFile(file, []byte(config), 0o644); err != nil {
		return nil, err
	}
	args = append(args, "--engine", e.o.Engine, "--log-level", "warn")
	return nodeproc.Start(ctx, &nodeproc.Options{
		Binary: e.o.Rrnode, Config: file, Args: args, Output: e.o.NodeLog,
		StartTimeout: 5 * time.Minute, StopTimeout: 30 * time.Second,
	})
}

// freeTCP picks a free port on 127.0.0.1.
func freeTCP() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startPath starts path's processes for e.size.
func startPath(ctx context.Context, e *env, path string) (pathRun, error) {
	pairs := e.o.Concurrency
	switch path {
	case PathMemory:
		n, err := e.startNode(ctx, "memory", e.nodeHead("bench-memory")+"functions:\n"+
			fnLines("src", e.module("benchsrc"), pairs)+fnLines("sink", e.module("benchsink"), pairs), "--accel", "none")
		if err != nil {
			return nil, err
		}
		return &wasmRun{e: e, edge: n, back: n}, nil
	case PathUnix, PathTCP, PathUnixIOURing, PathTCPIOURing, PathTCPSockmap, PathShm:
		var listen, address string
		if strings.HasPrefix(path, "unix") || path == PathShm {
			sock := filepath.Join(e.dir, strings.ReplaceAll(path, "+", "-")+".sock")
			listen, address = "  listen: {unix: "+sock+"}\n", "unix://"+sock
		} else {
			addr, err := freeTCP()
			if err != nil {
				return nil, err
			}
			listen, address = "  listen: {tcp: \""+addr+"\"}\n", "tcp://"+addr
		}
		args := []string{"--accel", accelOf(path)}
		if accelOf(path) != "none" {
			args = append(args, "--strict-accel")
		}
		tag := strings.ReplaceAll(path, "+", "-")
		sinks, auth := fnLines("sink", e.module("benchsink"), pairs), ""
		if path == PathShm {
			var err error
			if auth, err = e.authLines(); err != nil {
				return nil, err
			}
			sinks = sharedLines("sink", e.module("benchsink"), pairs)
		}
		back, err := e.startNode(ctx, tag+"-back", e.nodeHead("bench-"+tag+"-back")+auth+listen+"functions:\n"+sinks, args...)
		if err != nil {
			return nil, err
		}
		edge, err := e.startNode(ctx, tag+"-edge", e.nodeHead("bench-"+tag+"-edge")+auth+"functions:\n"+
			fnLines("src", e.module("benchsrc"), pairs)+
			"peers:\n  - {name: back, address: \""+address+"\", functions: ["+names("sink", pairs)+"]}\n", args...)
		if err != nil {
			back.Stop()
			return nil, err
		}
		return &wasmRun{e: e, edge: edge, back: back}, nil
	case PathHTTPJSON:
		back, err := e.startNode(ctx, "json-back", e.nodeHead("bench-json-back")+"functions:\n"+
			fnLines("jsink", e.module("jsonsink"), pairs), "--accel", "none")
		if err != nil {
			return nil, err
		}
		snd, _, err := startAgent(ctx, e.o, "sender")
		if err != nil {
			back.Stop()
			return nil, err
		}
		return &agentRun{e: e, op: "json-wasm", snd: snd, url: back.URL() + "/v1/functions/jsink", node: back}, nil
	case PathHTTPRaw:
		rcv, addr, err := startAgent(ctx, e.o, "raw-recv", e.module("rawsink"), e.o.CacheDir)
		if err != nil {
			return nil, err
		}
		snd, _, err := startAgent(ctx, e.o, "sender")
		if err != nil {
			rcv.stop()
			return nil, err
		}
		r := &agentRun{e: e, op: "raw-wasm", snd: snd, rcv: rcv, url: "http://" + addr + "/raw/"}
		if e.o.Engine != "wazero" {
			r.note = "guests on wazero (http-raw's hosts embed it), not " + e.o.Engine
		}
		return r, nil
	case PathNativeHTTP, PathNativeHTTPJSON:
		rcv, addr, err := startAgent(ctx, e.o, "http-recv")
		if err != nil {
			return nil, err
		}
		snd, _, err := startAgent(ctx, e.o, "sender")
		if err != nil {
			rcv.stop()
			return nil, err
		}
		if path == PathNativeHTTPJSON {
			return &agentRun{e: e, op: "native-http-json", snd: snd, rcv: rcv, url: "http://" + addr + "/j/"}, nil
		}
		return &agentRun{e: e, op: "native-http", snd: snd, rcv: rcv, url: "http://" + addr + "/raw/"}, nil
	case PathSocketUnix, PathSocketTCP:
		network, addr := "tcp", "127.0.0.1:0"
		if path == PathSocketUnix {
			network, addr = "unix", filepath.Join(e.dir, "socket-unix.sock")
		}
		rcv, addr, err := startAgent(ctx, e.o, "socket-recv", network, addr)
		if err != nil {
			return nil, err
		}
		snd, _, err := startAgent(ctx, e.o, "sender")
		if err != nil {
			rcv.stop()
			return nil, err
		}
		return &agentRun{e: e, op: "socket", snd: snd, rcv: rcv, network: network, addr: addr}, nil
	case PathMemcpy:
		snd, _, err := startAgent(ctx, e.o, "sender")
		if err != nil {
			return nil, err
		}
		return &agentRun{e: e, op: "memcpy", snd: snd}, nil
	}
	return nil, fmt.Errorf("unknown path %q", path)
}

// wasmRun is a Roadrunner path: benchsrc on edge sends to benchsink on
// back (the same node for memory).
type wasmRun struct {
	e          *env
	edge, back *nodeproc.Node
}

func (r *wasmRun) procs() []int {
	if r.edge == r.back {
		return []int{r.edge.PID()}
	}
	return []int{r.edge.PID(), r.back.PID()}
}

func (r *wasmRun) stop() error {
	var errs []error
	if _, err := r.edge.Stop(); err != nil {
		errs = append(errs, err)
	}
	if r.back != r.edge {
		if _, err := r.back.Stop(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// invoke posts body to function fn of n and returns the reply.
func invoke(ctx context.Context, c *http.Client, n *nodeproc.Node, fn string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.URL()+"/v1/functions/"+fn, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("invoke %s: read reply: %w", fn, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("invoke %s: %s: %s", fn, resp.Status, bytes.TrimSpace(reply))
	}
	if e := resp.Trailer.Get(node.HeaderError); e != "" {
		return nil, fmt.Errorf("invoke %s: %s", fn, e)
	}
	return reply, nil
}

func (r *wasmRun) batch(ctx context.Context, pair int, seq uint64, count int, done func()) (batchOut, error) {
	var out batchOut
	ctx, cancel := context.WithTimeout(ctx, ioDeadline(r.e.size, count))
	defer cancel()
	cmd, _ := json.Marshal(map[string]any{"to": "sink" + strconv.Itoa(pair), "size": r.e.size, "count": count, "seq": seq})
	reply, sendErr := invoke(ctx, r.e.client, r.edge, "src"+strconv.Itoa(pair), cmd)
	if done != nil {
		done()
	}
	var src struct {
		SendNS []int64 `json:"send_ns"`
		Error  string  `json:"error"`
	}
	if sendErr == nil {
		if err := json.Unmarshal(reply, &src); err != nil {
			sendErr = fmt.Errorf("benchsrc reply %q: %w", reply, err)
		} else if src.Error != "" {
			sendErr = errors.New("benchsrc: " + src.Error)
		}
	}
	// The sink's records, also after a failure: they say why.
	rep, err := invoke(ctx, r.e.client, r.back, "sink"+strconv.Itoa(pair), []byte("RRBR"))
	var sink struct {
		Seq      []uint64 `json:"seq"`
		VerifyNS []int64  `json:"verify_ns"`
		Failed   int      `json:"failed"`
		Error    string   `json:"error"`
	}
	if err == nil {
		err = json.Unmarshal(rep, &sink)
	}
	switch {
	case err != nil && sendErr != nil:
		return out, errors.Join(sendErr, err)
	case err != nil:
		return out, fmt.Errorf("benchsink report: %w", err)
	case sink.Failed > 0:
		return out, fmt.Errorf("benchsink: %d payloads did not verify: %s", sink.Failed, sink.Error)
	case sendErr != nil:
		return out, sendErr
	case len(src.SendNS) != count || len(sink.Seq) != count || len(sink.VerifyNS) != count:
		return out, fmt.Errorf("%d sends timed, %d payloads verified, %d sent", len(src.SendNS), len(sink.Seq), count)
	}
	for i := range count {
		if sink.Seq[i] != seq+uint64(i) {
			return out, fmt.Errorf("benchsink verified seq %d as the %dth payload, want %d", sink.Seq[i], i, seq+uint64(i))
		}
		out.lat = append(out.lat, time.Duration(src.SendNS[i]-sink.VerifyNS[i]))
		out.recvVerify += time.Duration(sink.VerifyNS[i])
	}
	return out, nil
}

// notes reports the sending node's fallbacks, which --strict-accel does not
// prevent once a node has started (a transfer may still fall back).
func (r *wasmRun) notes(ctx context.Context) string {
	var notes []string
	for _, n := range []*nodeproc.Node{r.edge, r.back} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.URL()+"/metrics", nil)
		if err != nil {
			continue
		}
		resp, err := r.e.client.Do(req)
		if err != nil {
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, line := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(line, "rr_fallbacks_total{") && !strings.HasSuffix(line, " 0") {
				notes = append(notes, line)
			}
		}
		if r.back == r.edge {
			break
		}
	}
	return strings.Join(notes, "; ")
}

// agentRun is a path whose sender is an agent: http-json (receiver: an
// rrnode node), http-raw, native-http, native-http-json, socket-*, memcpy
// (no receiver).
type agentRun struct {
	e             *env
	op            string
	snd, rcv      *agent
	node          *nodeproc.Node // http-json's receiver
	url           string         // + pair
	network, addr string
	note          string
}

func (r *agentRun) procs() []int {
	switch {
	case r.node != nil:
		return []int{r.snd.pid(), r.node.PID()}
	case r.rcv != nil:
		return []int{r.snd.pid(), r.rcv.pid()}
	}
	return []int{r.snd.pid()}
}

func (r *agentRun) stop() error {
	errs := []error{r.snd.stop()}
	if r.rcv != nil {
		errs = append(errs, r.rcv.stop())
	}
	if r.node != nil {
		_, err := r.node.Stop()
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (r *agentRun) notes(context.Context) string { return r.note }

func (r *agentRun) batch(ctx context.Context, pair int, seq uint64, count int, done func()) (batchOut, error) {
	req := agentRequest{Op: r.op, Pair: pair, Size: r.e.size, Seq: seq, Count: count, Network: r.network, Addr: r.addr}
	if r.url != "" {
		req.URL = r.url + strconv.Itoa(pair)
	}
	switch r.op {
	case "json-wasm":
		req.Module, req.Pairs, req.CacheDir, req.MaxPayload = r.e.module("jsonsrc"), r.e.o.Concurrency, r.e.o.CacheDir, r.e.maxPayload()
	case "raw-wasm":
		req.Module, req.CacheDir = r.e.module("rawsrc"), r.e.o.CacheDir
	}
	ctx, cancel := context.WithTimeout(ctx, ioDeadline(r.e.size, count)+time.Minute)
	defer cancel()
	resp, err := r.snd.call(ctx, req)
	if done != nil {
		done()
	}
	out := batchOut{sendVerify: time.Duration(resp.SendVerifyNS), recvVerify: time.Duration(resp.RecvVerifyNS)}
	if err != nil {
		return out, err
	}
	if len(resp.LatencyNS) != count {
		return out, fmt.Errorf("%d transfers measured, %d asked", len(resp.LatencyNS), count)
	}
	for _, l := range resp.LatencyNS {
		out.lat = append(out.lat, time.Duration(l))
	}
	return out, nil
}
