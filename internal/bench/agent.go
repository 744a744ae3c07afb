package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	goruntime "runtime"
	"strconv"
	"sync"
	"time"

	"github.com/roadrunner-wasm/roadrunner/internal/bench/payload"
	"github.com/roadrunner-wasm/roadrunner/node"
	"github.com/roadrunner-wasm/roadrunner/runtime"
)

// An agent is a process rrnode bench starts (rrnode bench-agent ROLE) for
// the paths that are not a pair of rrnode nodes: the native baselines'
// senders and receivers, http-json's sender, which hosts jsonsrc in a node
// of its own and posts its JSON, and http-raw's two hosts, which embed
// wazero and run rawsrc and rawsink (rawhttp.go). The driver talks to an
// agent over its standard input and output, one JSON object per line; an
// agent ends when its standard input closes.
//
// Roles:
//
//	sender                       runs the requests it reads (agentRequest), several at once
//	http-recv                    native-http's and native-http-json's receiver: HTTP on
//	                             127.0.0.1, POST /raw/{pair} (raw bytes) and /j/{pair} (JSON)
//	raw-recv MODULE CACHE_DIR    http-raw's receiving host: HTTP on 127.0.0.1, POST
//	                             /raw/{pair} read by MODULE (rawsink) through body_read;
//	                             CACHE_DIR as node.cache_dir
//	socket-recv NETWORK ADDRESS  socket-unix's and socket-tcp's receiver
//
// A receiver prints {"addr": "..."} once it listens.

// AgentRoles are the roles of rrnode bench-agent.
var AgentRoles = []string{"sender", "http-recv", "raw-recv", "socket-recv"}

// AgentOptions configures an agent.
type AgentOptions struct {
	// OpenEngine makes the engine of http-json's sending node; nil means
	// the node's default (wazero).
	OpenEngine func(ctx context.Context, cacheDir string) (runtime.Engine, error)
}

type agentRequest struct {
	ID    int    `json:"id"`
	Op    string `json:"op"` // json-wasm, raw-wasm, native-http, native-http-json, socket, memcpy
	Pair  int    `json:"pair"`
	Size  int64  `json:"size"`
	Seq   uint64 `json:"seq"`
	Count int    `json:"count"`
	// URL: the receiver of the HTTP ops; Network and Addr: socket's.
	URL     string `json:"url,omitempty"`
	Network string `json:"network,omitempty"`
	Addr    string `json:"addr,omitempty"`
	// json-wasm: the jsonsrc module, the pairs (functions jsrc0..), the
	// compilation cache and the functions' max_payload. raw-wasm: the
	// rawsrc module and the compilation cache (node.cache_dir's value).
	Module     string `json:"module,omitempty"`
	Pairs      int    `json:"pairs,omitempty"`
	CacheDir   string `json:"cache_dir,omitempty"`
	MaxPayload int64  `json:"max_payload,omitempty"`
}

type agentResponse struct {
	ID int `json:"id"`
	// LatencyNS: each transfer's time, its receiver's verification
	// subtracted.
	LatencyNS []int64 `json:"latency_ns"`
	// RecvVerifyNS is the receiver's verification CPU (or wall time, where
	// the receiver is a guest), summed; SendVerifyNS the sender process's
	// own (memcpy verifies in the sending process).
	RecvVerifyNS int64  `json:"recv_verify_ns"`
	SendVerifyNS int64  `json:"send_verify_ns"`
	Error        string `json:"error,omitempty"`
}

// verdict is what the receivers of the HTTP ops answer.
type verdict struct {
	OK          bool   `json:"ok"`
	Seq         uint64 `json:"seq"`
	VerifyNS    int64  `json:"verify_ns"`
	VerifyCPUNS int64  `json:"verify_cpu_ns"`
	Error       string `json:"error,omitempty"`
}

// message is http-json's and native-http-json's JSON: the payload as
// base64.
type message struct {
	Data []byte `json:"data"`
}

// RunAgent runs an agent of the given role until in closes.
func RunAgent(ctx context.Context, role string, args []string, opts *AgentOptions, in io.Reader, out io.Writer) error {
	if opts == nil {
		opts = &AgentOptions{}
	}
	switch role {
	case "sender":
		if len(args) != 0 {
			return errors.New("bench-agent sender: no arguments")
		}
		s := &sender{opts: opts, pairs: map[int]*senderPair{}}
		defer s.close()
		return s.serve(ctx, in, out)
	case "http-recv":
		if len(args) != 0 {
			return errors.New("bench-agent http-recv: no arguments")
		}
		return httpReceiver(in, out)
	case "raw-recv":
		if len(args) != 2 {
			return errors.New("bench-agent raw-recv: want MODULE CACHE_DIR")
		}
		return rawReceiver(args[0], args[1], in, out)
	case "socket-recv":
		if len(args) != 2 {
			return errors.New("bench-agent socket-recv: want NETWORK ADDRESS")
		}
		return socketReceiver(args[0], args[1], in, out)
	}
	return fmt.Errorf("bench-agent: unknown role %q", role)
}

// verifyTimed checks p and clears it, on a locked thread, and returns the
// wall and CPU time that took, and the check's verdict.
func verifyTimed(p []byte) (seq uint64, wall, cpu time.Duration, err error) {
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	c0, t0 := ThreadCPU(), time.Now()
	seq, err = payload.Check(p)
	payload.Clear(p)
	return seq, time.Since(t0), ThreadCPU() - c0, err
}

// seqCheck refuses a sequence number not above the previous one.
type seqCheck struct {
	last uint64
	any  bool
}

func (s *seqCheck) next(seq uint64) error {
	if s.any && seq <= s.last {
		return fmt.Errorf("seq %d after seq %d: a payload delivered twice or out of order", seq, s.last)
	}
	s.last, s.any = seq, true
	return nil
}

// ---- sender

type sender struct {
	opts *AgentOptions

	mu    sync.Mutex
	pairs map[int]*senderPair
	node  *node.Node // json-wasm's, made on its first request
	nodeE runtime.Engine
	err   error      // making node failed
	raw   *rawEngine // raw-wasm's, made on its first request
	rawE  error      // making raw failed
}

// senderPair is one pair's state: its payload and buffers, its connection.
type senderPair struct {
	mu   sync.Mutex
	buf  []byte
	sum  uint64
	dst  []byte       // memcpy's
	enc  bytes.Buffer // native-http-json's JSON
	conn net.Conn     // socket's
	src  *rawSource   // raw-wasm's rawsrc instance
	http *http.Client
}

func (s *sender) pair(i int) *senderPair {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pairs[i]
	if p == nil {
		p = &senderPair{http: &http.Client{Transport: &http.Transport{
			MaxIdleConnsPerHost: 1, DisableCompression: true,
			// The payloads are large: buffers as big as a socket's.
			WriteBufferSize: 256 << 10, ReadBufferSize: 64 << 10,
		}}}
		s.pairs[i] = p
	}
	return p
}

func (p *senderPair) payload(size int64) {
	if int64(len(p.buf)) != size {
		p.buf, p.dst = nil, nil
		p.buf = make([]byte, size)
		p.sum = payload.Fill(p.buf)
	}
}

func (s *sender) close() {
	for _, p := range s.pairs {
		if p.conn != nil {
			p.conn.Close()
		}
		if p.src != nil {
			p.src.close()
		}
	}
	if s.raw != nil {
		s.raw.close()
	}
	if s.node != nil {
		s.node.Shutdown(context.Background())
		if s.nodeE != nil {
			s.nodeE.Close(context.Background())
		}
	}
}

func (s *sender) serve(ctx context.Context, in io.Reader, out io.Writer) error {
	var wmu sync.Mutex
	enc := json.NewEncoder(out)
	var wg sync.WaitGroup
	defer wg.Wait()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var req agentRequest
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			return fmt.Errorf("bench-agent: request %q: %w", sc.Bytes(), err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := s.handle(ctx, &req)
			resp.ID = req.ID
			wmu.Lock()
			defer wmu.Unlock()
			enc.Encode(resp)
		}()
	}
	return sc.Err()
}

func (s *sender) handle(ctx context.Context, req *agentRequest) (resp agentResponse) {
	p := s.pair(req.Pair)
	p.mu.Lock()
	defer p.mu.Unlock()
	var err error
	switch req.Op {
	case "memcpy":
		err = p.memcpy(req, &resp)
	case "socket":
		err = p.socket(req, &resp)
	case "native-http":
		err = p.nativeHTTP(ctx, req, &resp)
	case "native-http-json":
		err = p.nativeHTTPJSON(ctx, req, &resp)
	case "raw-wasm":
		err = s.rawWasm(ctx, p, req, &resp)
	case "json-wasm":
		err = s.jsonWasm(ctx, p, req, &resp)
	default:
		err = fmt.Errorf("unknown op %q", req.Op)
	}
	if err != nil {
		resp.Error = err.Error()
	}
	return resp
}

func (p *senderPair) memcpy(req *agentRequest, resp *agentResponse) error {
	p.payload(req.Size)
	if int64(len(p.dst)) != req.Size {
		p.dst = make([]byte, req.Size)
		for i := range p.dst {
			p.dst[i] = 0xA5 // touched: the pages are there before the first copy
		}
	}
	for i := range req.Count {
		payload.Stamp(p.buf, p.sum, req.Seq+uint64(i))
		t0 := time.Now()
		copy(p.dst, p.buf)
		d := time.Since(t0)
		_, _, cpu, err := verifyTimed(p.dst)
		resp.SendVerifyNS += int64(cpu)
		if err != nil {
			return err
		}
		resp.LatencyNS = append(resp.LatencyNS, int64(d))
	}
	return nil
}

// socketChunk is the socket loop's write and read size: 1 MiB writes were
// measured cheaper than one large write on this kind of machine.
const socketChunk = 1 << 20

// socketAck is the receiver's answer: status (0 = verified), then the
// verification's wall and CPU nanoseconds.
const socketAck = 17

func (p *senderPair) socket(req *agentRequest, resp *agentResponse) error {
	p.payload(req.Size)
	if p.conn == nil {
		c, err := net.DialTimeout(req.Network, req.Addr, 10*time.Second)
		if err != nil {
			return err
		}
		p.conn = c
	}
	c := p.conn
	var hdr [8]byte
	var ack [socketAck]byte
	binary.LittleEndian.PutUint64(hdr[:], uint64(req.Size))
	c.SetDeadline(time.Now().Add(ioDeadline(req.Size, req.Count)))
	for i := range req.Count {
		payload.Stamp(p.buf, p.sum, req.Seq+uint64(i))
		t0 := time.Now()
		if _, err := c.Write(hdr[:]); err != nil {
			return err
		}
		for off := 0; off < len(p.buf); off += socketChunk {
			if _, err := c.Write(p.buf[off:min(off+socketChunk, len(p.buf))]); err != nil {
				return err
			}
		}
		if _, err := io.ReadFull(c, ack[:]); err != nil {
			return fmt.Errorf("read ack: %w", err)
		}
		d := time.Since(t0)
		wall := int64(binary.LittleEndian.Uint64(ack[1:]))
		resp.RecvVerifyNS += int64(binary.LittleEndian.Uint64(ack[9:]))
		if ack[0] != 0 {
			return fmt.Errorf("seq %d: the receiver did not verify the payload", req.Seq+uint64(i))
		}
		resp.LatencyNS = append(resp.LatencyNS, int64(d)-wall)
	}
	return nil
}

// nativeHTTP posts the payload's raw bytes; the receiver reads the body
// into a buffer it reuses.
func (p *senderPair) nativeHTTP(ctx context.Context, req *agentRequest, resp *agentResponse) error {
	p.payload(req.Size)
	ctx, cancel := context.WithTimeout(ctx, ioDeadline(req.Size, req.Count))
	defer cancel()
	for i := range req.Count {
		payload.Stamp(p.buf, p.sum, req.Seq+uint64(i))
		t0 := time.Now()
		v, err := post(ctx, p.http, req.URL, "application/octet-stream", p.buf)
		d := time.Since(t0)
		if err != nil {
			return err
		}
		resp.RecvVerifyNS += v.VerifyCPUNS
		resp.LatencyNS = append(resp.LatencyNS, int64(d)-v.VerifyNS)
	}
	return nil
}

// nativeHTTPJSON posts the payload as JSON, {"data":"<base64>"}, encoded
// in the timed transfer; the receiver decodes it.
func (p *senderPair) nativeHTTPJSON(ctx context.Context, req *agentRequest, resp *agentResponse) error {
	p.payload(req.Size)
	ctx, cancel := context.WithTimeout(ctx, ioDeadline(req.Size, req.Count))
	defer cancel()
	for i := range req.Count {
		payload.Stamp(p.buf, p.sum, req.Seq+uint64(i))
		t0 := time.Now()
		p.enc.Reset()
		if err := json.NewEncoder(&p.enc).Encode(message{Data: p.buf}); err != nil {
			return err
		}
		v, err := post(ctx, p.http, req.URL, "application/json", p.enc.Bytes())
		d := time.Since(t0)
		if err != nil {
			return err
		}
		resp.RecvVerifyNS += v.VerifyCPUNS
		resp.LatencyNS = append(resp.LatencyNS, int64(d)-v.VerifyNS)
	}
	return nil
}

// post sends body to url as contentType and returns the receiver's
// verdict, an error if it is not ok.
func post(ctx context.Context, c *http.Client, url, contentType string, body []byte) (verdict, error) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return verdict{}, err
	}
	hreq.Header.Set("Content-Type", contentType)
	_, v, err := roundTrip(c, hreq)
	return v, err
}

// roundTrip makes the request hreq and reads the receiver's verdict: it
// returns the response's status (0 if there was no response), the
// verdict, and an error unless the verdict is ok.
func roundTrip(c *http.Client, hreq *http.Request) (int, verdict, error) {
	var v verdict
	url := hreq.URL.String()
	hresp, err := c.Do(hreq)
	if err != nil {
		return 0, v, err
	}
	defer hresp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(hresp.Body, 1<<20))
	if err != nil {
		return hresp.StatusCode, v, fmt.Errorf("read answer: %w", err)
	}
	if hresp.StatusCode != http.StatusOK {
		return hresp.StatusCode, v, fmt.Errorf("POST %s: %s: %s", url, hresp.Status, bytes.TrimSpace(answer))
	}
	if err := json.Unmarshal(answer, &v); err != nil {
		return hresp.StatusCode, v, fmt.Errorf("POST %s: answer %q: %w", url, answer, err)
	}
	if e := hresp.Trailer.Get(node.HeaderError); e != "" {
		return hresp.StatusCode, v, fmt.Errorf("POST %s: %s", url, e)
	}
	if !v.OK {
		return hresp.StatusCode, v, fmt.Errorf("POST %s: the receiver did not verify the payload: %s", url, v.Error)
	}
	return hresp.StatusCode, v, nil
}

// jsonNode makes json-wasm's node: functions jsrc0.. on req's module.
func (s *sender) jsonNode(ctx context.Context, req *agentRequest) (*node.Node, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.node != nil || s.err != nil {
		return s.node, s.err
	}
	cfg := &node.Config{Node: node.NodeConfig{
		Name:              "bench-jsonsrc",
		MaxPayload:        uint64(req.MaxPayload),
		InvocationTimeout: time.Hour,
		DrainTimeout:      10 * time.Second,
		CacheDir:          req.CacheDir,
	}}
	for i := range max(1, req.Pairs) {
		cfg.Functions = append(cfg.Functions, node.FunctionConfig{
			Name: "jsrc" + strconv.Itoa(i), Module: req.Module, Pool: 1, Uninterruptible: true,
			RecycleMemory: node.MaxMemoryLimit, // a benchmark measures transfers, not instantiations
		})
	}
	var eng runtime.Engine
	if s.opts.OpenEngine != nil {
		dir, err := node.CacheDir(req.CacheDir, func() (string, error) { return "", nil })
		if err == nil {
			eng, err = s.opts.OpenEngine(ctx, dir)
		}
		if err != nil {
			s.err = err
			return nil, err
		}
	}
	n, err := node.New(ctx, cfg, &node.Options{Engine: eng, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		if eng != nil {
			eng.Close(ctx)
		}
		s.err = err
		return nil, err
	}
	s.node, s.nodeE = n, eng
	return n, nil
}

// poster is the reply writer of one jsonsrc invocation: it posts the
// reply (a view of the guest's memory) to the receiver and keeps its
// verdict.
type poster struct {
	ctx    context.Context
	client *http.Client
	url    string
	v      verdict
	err    error
}

func (w *poster) Write(p []byte) (int, error) {
	w.v, w.err = post(w.ctx, w.client, w.url, "application/json", p)
	if w.err != nil {
		return 0, w.err
	}
	return len(p), nil
}

func (s *sender) jsonWasm(ctx context.Context, p *senderPair, req *agentRequest, resp *agentResponse) error {
	n, err := s.jsonNode(ctx, req)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, ioDeadline(req.Size, req.Count))
	defer cancel()
	fn := "jsrc" + strconv.Itoa(req.Pair)
	for i := range req.Count {
		cmd, _ := json.Marshal(map[string]any{"size": req.Size, "seq": req.Seq + uint64(i)})
		w := &poster{ctx: ctx, client: p.http, url: req.URL}
		t0 := time.Now()
		_, err := n.Invoke(ctx, fn, uint64(len(cmd)), func(dst []byte) error { copy(dst, cmd); return nil }, w)
		d := time.Since(t0)
		if w.err != nil {
			return w.err
		}
		if err != nil {
			return fmt.Errorf("jsonsrc: %w", err)
		}
		if !w.v.OK {
			return errors.New("jsonsrc replied nothing")
		}
		resp.RecvVerifyNS += w.v.VerifyNS
		resp.LatencyNS = append(resp.LatencyNS, int64(d)-w.v.VerifyNS)
	}
	return nil
}

// rawEngine returns raw-wasm's engine, made on the first request.
func (s *sender) rawEngine(req *agentRequest) (*rawEngine, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.raw == nil && s.rawE == nil {
		s.raw, s.rawE = newRawEngine(req.Module, req.CacheDir)
	}
	return s.raw, s.rawE
}

// rawWasm is http-raw's sender: pair's instance of rawsrc stamps its
// payload and posts it through the post import; the transfer is timed
// around the call into the guest, as json-wasm's.
func (s *sender) rawWasm(ctx context.Context, p *senderPair, req *agentRequest, resp *agentResponse) error {
	if req.Size > MaxSize {
		return fmt.Errorf("size %d: over %d", req.Size, MaxSize)
	}
	e, err := s.rawEngine(req)
	if err != nil {
		return err
	}
	if p.src == nil {
		if p.src, err = newRawSource(ctx, e, p.http); err != nil {
			return err
		}
	}
	p.src.url = req.URL
	ctx, cancel := context.WithTimeout(ctx, ioDeadline(req.Size, req.Count))
	defer cancel()
	for i := range req.Count {
		t0 := time.Now()
		v, err := p.src.transfer(ctx, req.Size, req.Seq+uint64(i))
		d := time.Since(t0)
		if err != nil {
			if errors.Is(err, errTrap) {
				p.src.close()
				p.src = nil
			}
			return err
		}
		resp.RecvVerifyNS += v.VerifyNS
		resp.LatencyNS = append(resp.LatencyNS, int64(d)-v.VerifyNS)
	}
	return nil
}

// ---- receivers

// announce prints the receiver's address, then waits for in to close.
func announce(addr string, in io.Reader, out io.Writer) error {
	if err := json.NewEncoder(out).Encode(map[string]string{"addr": addr}); err != nil {
		return err
	}
	_, err := io.Copy(io.Discard, in)
	return err
}

// serveHTTP serves h on a port of 127.0.0.1 until in closes.
func serveHTTP(h http.Handler, in io.Reader, out io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	defer srv.Close()
	return announce(ln.Addr().String(), in, out)
}

// httpReceiver is native-http's and native-http-json's receiver: POST
// /raw/{pair} reads a body of raw bytes into the pair's buffer, POST
// /j/{pair} reads JSON and decodes it; each pair's buffer is reused.
func httpReceiver(in io.Reader, out io.Writer) error {
	type state struct {
		mu  sync.Mutex
		buf []byte
		seq seqCheck
	}
	var mu sync.Mutex
	pairs := map[string]*state{}
	mux := http.NewServeMux()
	handle := func(route string, decode func(body []byte) ([]byte, error)) {
		mux.HandleFunc("POST /"+route+"/{pair}", func(w http.ResponseWriter, r *http.Request) {
			key := route + "/" + r.PathValue("pair")
			mu.Lock()
			st := pairs[key]
			if st == nil {
				st = &state{}
				pairs[key] = st
			}
			mu.Unlock()
			st.mu.Lock()
			defer st.mu.Unlock()
			n := r.ContentLength
			if n <= 0 || n > 2*MaxSize {
				http.Error(w, "want a Content-Length", http.StatusLengthRequired)
				return
			}
			if int64(cap(st.buf)) < n {
				st.buf = nil
				st.buf = make([]byte, n)
			}
			body := st.buf[:n]
			if _, err := io.ReadFull(r.Body, body); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			var v verdict
			p, err := decode(body)
			if err == nil {
				var wall, cpu time.Duration
				v.Seq, wall, cpu, err = verifyTimed(p)
				v.VerifyNS, v.VerifyCPUNS = int64(wall), int64(cpu)
				if err == nil {
					err = st.seq.next(v.Seq)
				}
			}
			v.OK = err == nil
			if err != nil {
				v.Error = err.Error()
			}
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(v)
		})
	}
	handle("raw", func(body []byte) ([]byte, error) { return body, nil })
	handle("j", func(body []byte) ([]byte, error) {
		var m message
		err := json.Unmarshal(body, &m)
		return m.Data, err
	})
	return serveHTTP(mux, in, out)
}

func socketReceiver(network, addr string, in io.Reader, out io.Writer) error {
	ln, err := net.Listen(network, addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go receiveSocket(c)
		}
	}()
	return announce(ln.Addr().String(), in, out)
}

// receiveSocket is the socket loop's receiver: a length, that many bytes
// into a reused buffer in 1 MiB reads, verification, the ack; until the
// sender hangs up.
func receiveSocket(c net.Conn) {
	defer c.Close()
	var buf []byte
	var hdr [8]byte
	var ack [socketAck]byte
	var seqs seqCheck
	for {
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return
		}
		n := binary.LittleEndian.Uint64(hdr[:])
		if n > MaxSize {
			return
		}
		if uint64(cap(buf)) < n {
			buf = nil
			buf = make([]byte, n)
		}
		p := buf[:n]
		for off := 0; off < len(p); off += socketChunk {
			if _, err := io.ReadFull(c, p[off:min(off+socketChunk, len(p))]); err != nil {
				return
			}
		}
		seq, wall, cpu, err := verifyTimed(p)
		if err == nil {
			err = seqs.next(seq)
		}
		ack[0] = 0
		if err != nil {
			ack[0] = 1
			fmt.Fprintf(os.Stderr, "bench-agent socket-recv: %v\n", err)
		}
		binary.LittleEndian.PutUint64(ack[1:], uint64(wall))
		binary.LittleEndian.PutUint64(ack[9:], uint64(cpu))
		if _, err := c.Write(ack[:]); err != nil {
			return
		}
	}
}
