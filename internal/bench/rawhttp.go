package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/roadrunner-wasm/roadrunner/abi"
	"github.com/roadrunner-wasm/roadrunner/node"
	rrwazero "github.com/roadrunner-wasm/roadrunner/runtime/wazero"
)

// The http-raw baseline's hosts: what a WebAssembly platform gives a
// function today to pass raw bytes to another function in another process
// (wasi-http, Spin's service chaining), without Roadrunner. The guests
// (examples/rawsrc, examples/rawsink) import module "rawhttp"; the hosts
// embed wazero directly, not through runtime/wazero, whose host module is
// Roadrunner's own ABI.
//
// Copies, per payload: the sending host's HTTP client copies the guest's
// bytes out of its memory into its own buffer, at most rawChunk bytes a
// read (net/http asks for 32 KiB at a time: strace shows 32 KiB writes),
// and writes that to the loopback socket; the receiving host reads the
// socket into its own rawChunk-byte buffer (reads of 32 to 64 KiB, what
// has arrived), and each body_read of the receiving guest copies from that
// buffer into the guest's memory. That is one user-space copy more on each
// side than the unix path makes, and a host call per chunk on the
// receiving side.
const (
	rawImports = "rawhttp"
	rawChunk   = 64 << 10
)

// rawEngine loads one http-raw guest module: one compilation cache (on disk
// where node.cache_dir says, as the nodes', else in memory), and a wazero
// runtime per instance, so that each instance's host functions are bound
// to that instance's state.
type rawEngine struct {
	file   string
	module []byte
	cache  wazero.CompilationCache
}

// newRawEngine reads the module in file; cacheDir is node.cache_dir's
// value ("" = wazero's default directory, node.CacheOff = none).
func newRawEngine(file, cacheDir string) (*rawEngine, error) {
	module, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	dir, err := node.CacheDir(cacheDir, rrwazero.DefaultCacheDir)
	if err != nil {
		return nil, err
	}
	e := &rawEngine{file: file, module: module}
	if dir == "" {
		e.cache = wazero.NewCompilationCache()
		return e, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cache dir: %w", err)
	}
	if e.cache, err = wazero.NewCompilationCacheWithDir(dir); err != nil {
		return nil, fmt.Errorf("cache dir: %w", err)
	}
	return e, nil
}

func (e *rawEngine) close() { e.cache.Close(context.Background()) }

// hostFunc is one function of the "rawhttp" module: (ptr, len i32) -> i32.
type hostFunc struct {
	name string
	fn   api.GoModuleFunc
}

// instantiate makes an instance of the module in a runtime of its own,
// with WASI and the "rawhttp" functions fns, runs its _initialize if it
// is a reactor, and returns the runtime (closing it closes the instance)
// and its export.
func (e *rawEngine) instantiate(ctx context.Context, fns []hostFunc, export string) (wazero.Runtime, api.Function, error) {
	cfg := wazero.NewRuntimeConfig().
		WithCompilationCache(e.cache).
		// As the benchmark's functions, interruptible: false: the guests
		// compute (checksums), and deadline checks would slow that down.
		WithCloseOnContextDone(false).
		WithMemoryLimitPages(65536)
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	fn, err := e.load(ctx, rt, fns, export)
	if err != nil {
		rt.Close(ctx)
		return nil, nil, fmt.Errorf("%s: %w", e.file, err)
	}
	return rt, fn, nil
}

func (e *rawEngine) load(ctx context.Context, rt wazero.Runtime, fns []hostFunc, export string) (api.Function, error) {
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		return nil, fmt.Errorf("instantiate wasi: %w", err)
	}
	i32 := api.ValueTypeI32
	b := rt.NewHostModuleBuilder(rawImports)
	for _, f := range fns {
		b = b.NewFunctionBuilder().
			WithGoModuleFunction(f.fn, []api.ValueType{i32, i32}, []api.ValueType{i32}).
			WithParameterNames("ptr", "len").
			Export(f.name)
	}
	if _, err := b.Instantiate(ctx); err != nil {
		return nil, fmt.Errorf("instantiate host module: %w", err)
	}
	compiled, err := rt.CompileModule(ctx, e.module)
	if err != nil {
		return nil, fmt.Errorf("compile: %w", err)
	}
	mc := wazero.NewModuleConfig().
		WithSysWalltime().
		WithSysNanotime().
		WithSysNanosleep().
		WithRandSource(rand.Reader).
		WithStdout(os.Stderr).
		WithStderr(os.Stderr).
		WithStartFunctions()
	if _, ok := compiled.ExportedFunctions()["_initialize"]; ok {
		mc = mc.WithStartFunctions("_initialize")
	}
	mod, err := rt.InstantiateModule(ctx, compiled, mc)
	if err != nil {
		return nil, fmt.Errorf("instantiate: %w", err)
	}
	fn := mod.ExportedFunction(export)
	if fn == nil || mod.Memory() == nil {
		return nil, fmt.Errorf("the module exports no function %s or no memory", export)
	}
	return fn, nil
}

func code(c abi.Code) uint64 { return api.EncodeI32(int32(c)) }

// errTrap is wrapped by a call into a guest that trapped: the instance is
// unusable.
var errTrap = errors.New("trapped")

// ---- the sending side

// rawSource is an instance of rawsrc whose post import sends to url with
// client.
type rawSource struct {
	rt     wazero.Runtime
	send   api.Function
	client *http.Client
	url    string
	stack  [2]uint64

	// What the last post found: the receiver's verdict, or why there is
	// none.
	posted bool
	v      verdict
	err    error
}

func newRawSource(ctx context.Context, e *rawEngine, client *http.Client) (*rawSource, error) {
	s := &rawSource{client: client}
	rt, fn, err := e.instantiate(ctx, []hostFunc{{"post", s.post}}, "raw_send")
	if err != nil {
		return nil, err
	}
	s.rt, s.send = rt, fn
	return s, nil
}

func (s *rawSource) close() { s.rt.Close(context.Background()) }

// transfer calls raw_send(size, seq) and returns the receiver's verdict. An
// error is a trap (the instance is then unusable), a failed post, or a
// verdict that is not ok.
func (s *rawSource) transfer(ctx context.Context, size int64, seq uint64) (verdict, error) {
	s.posted, s.v, s.err = false, verdict{}, nil
	s.stack[0], s.stack[1] = api.EncodeU32(uint32(size)), seq
	if err := s.send.CallWithStack(ctx, s.stack[:]); err != nil {
		return verdict{}, fmt.Errorf("rawsrc: %w: %w", errTrap, err)
	}
	ret := api.DecodeI32(s.stack[0])
	switch {
	case s.err != nil:
		return s.v, s.err
	case !s.posted:
		return s.v, fmt.Errorf("rawsrc posted nothing (raw_send returned %d)", ret)
	case ret != 0:
		return s.v, fmt.Errorf("rawsrc: raw_send returned %d", ret)
	}
	return s.v, nil
}

// post is the "rawhttp" post import: the (ptr, len) of the caller's memory,
// bounds-checked, posted as the body of one request, streamed out of guest
// memory by the HTTP client. It returns the response's status, or a
// negative abi.Code when there is none.
func (s *rawSource) post(ctx context.Context, mod api.Module, stack []uint64) {
	s.posted = true
	view, ok := mod.Memory().Read(api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	if !ok {
		s.err = fmt.Errorf("rawsrc's post: %w", abi.BadPointer)
		stack[0] = code(abi.BadPointer)
		return
	}
	lease := &memLease{view: view}
	defer lease.revoke() // before the guest runs again
	var body io.ReadCloser = http.NoBody
	if len(view) > 0 {
		body = &guestBody{l: lease}
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, body)
	if err != nil {
		s.err = err
		stack[0] = code(abi.Internal)
		return
	}
	hreq.ContentLength = int64(len(view))
	// net/http may send the body again on a fresh connection when a reused
	// one turned out closed.
	hreq.GetBody = func() (io.ReadCloser, error) { return &guestBody{l: lease}, nil }
	hreq.Header.Set("Content-Type", "application/octet-stream")
	status, v, err := roundTrip(s.client, hreq)
	s.v, s.err = v, err
	if status == 0 {
		stack[0] = code(abi.Transport)
		return
	}
	stack[0] = api.EncodeI32(int32(status))
}

// memLease lends a view of guest memory to the HTTP client for as long as
// the host call that made it runs.
type memLease struct {
	mu      sync.Mutex
	view    []byte // a view of guest memory, not a copy
	revoked bool
}

// revoke waits for a read of the view in progress and fails every later
// one: net/http may read a request's body after Do has returned (when the
// server answered before it read it all), and by then the guest may have
// reused or grown its memory.
func (l *memLease) revoke() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.view, l.revoked = nil, true
}

var errLeaseRevoked = errors.New("the request body's guest memory is no longer lent")

// guestBody is a request body read from a memLease: each Read copies at
// most rawChunk bytes of guest memory into the HTTP client's buffer.
type guestBody struct {
	l   *memLease
	off int
}

func (b *guestBody) Read(p []byte) (int, error) {
	b.l.mu.Lock()
	defer b.l.mu.Unlock()
	if b.l.revoked {
		return 0, errLeaseRevoked
	}
	if b.off >= len(b.l.view) {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), rawChunk)], b.l.view[b.off:])
	b.off += n
	return n, nil
}

func (b *guestBody) Close() error { return nil }

// ---- the receiving side

// rawSink is an instance of rawsink and the request it is reading.
type rawSink struct {
	mu     sync.Mutex // one request at a time
	rt     wazero.Runtime
	handle api.Function
	buf    []byte // the host's receive buffer: rawChunk bytes
	stack  [1]uint64

	// The current request, while raw_handle runs.
	body      io.Reader
	eof       bool
	readErr   error
	resp      []byte // the guest's response, copied out of its memory
	responded bool
}

func newRawSink(ctx context.Context, e *rawEngine) (*rawSink, error) {
	k := &rawSink{buf: make([]byte, rawChunk)}
	rt, fn, err := e.instantiate(ctx, []hostFunc{{"body_read", k.bodyRead}, {"respond", k.respond}}, "raw_handle")
	if err != nil {
		return nil, err
	}
	k.rt, k.handle = rt, fn
	return k, nil
}

func (k *rawSink) close() { k.rt.Close(context.Background()) }

// serve hands a request's body of n bytes to raw_handle and returns the
// guest's response (nil if it made none) and raw_handle's result. An error
// is a trap: the instance is then unusable.
func (k *rawSink) serve(ctx context.Context, body io.Reader, n int64) ([]byte, int32, error) {
	k.body, k.eof, k.readErr, k.resp, k.responded = body, false, nil, k.resp[:0], false
	defer func() { k.body = nil }()
	k.stack[0] = api.EncodeU32(uint32(n))
	if err := k.handle.CallWithStack(ctx, k.stack[:]); err != nil {
		return nil, 0, fmt.Errorf("rawsink: %w: %w", errTrap, err)
	}
	if !k.responded {
		return nil, api.DecodeI32(k.stack[0]), nil
	}
	return k.resp, api.DecodeI32(k.stack[0]), nil
}

// bodyRead is the "rawhttp" body_read import: up to len bytes of the body
// into the caller's memory at ptr (bounds-checked), through the host's
// buffer, at most rawChunk bytes a call, as an input-stream read returns
// what has arrived. It returns the count, 0 at the end of the body (or for
// len 0), or a negative abi.Code.
func (k *rawSink) bodyRead(_ context.Context, mod api.Module, stack []uint64) {
	dst, ok := mod.Memory().Read(api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	switch {
	case !ok:
		stack[0] = code(abi.BadPointer)
		return
	case k.body == nil:
		stack[0] = code(abi.NoInvocation)
		return
	case k.readErr != nil:
		stack[0] = code(abi.Transport)
		return
	}
	for len(dst) > 0 && !k.eof {
		n, err := k.body.Read(k.buf[:min(len(dst), len(k.buf))])
		copy(dst, k.buf[:n])
		if err == io.EOF {
			k.eof = true
		} else if err != nil {
			k.readErr = err
			if n == 0 {
				stack[0] = code(abi.Transport)
				return
			}
		}
		if n > 0 {
			stack[0] = api.EncodeI32(int32(n))
			return
		}
	}
	stack[0] = 0
}

// respond is the "rawhttp" respond import: the response's body, copied out
// of the caller's memory (bounds-checked); once per request.
func (k *rawSink) respond(_ context.Context, mod api.Module, stack []uint64) {
	view, ok := mod.Memory().Read(api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	switch {
	case !ok:
		stack[0] = code(abi.BadPointer)
	case k.body == nil:
		stack[0] = code(abi.NoInvocation)
	case k.responded:
		stack[0] = code(abi.AlreadyReplied)
	default:
		k.resp, k.responded = append(k.resp[:0], view...), true
		stack[0] = 0
	}
}

// rawReceiver is http-raw's receiving host: HTTP on 127.0.0.1, POST
// /raw/{pair} handed to pair's instance of the module in file (made on the
// pair's first request; pair 0's at once, so that a module that does not
// load fails the start).
func rawReceiver(file, cacheDir string, in io.Reader, out io.Writer) error {
	ctx := context.Background()
	e, err := newRawEngine(file, cacheDir)
	if err != nil {
		return err
	}
	defer e.close()
	var mu sync.Mutex
	sinks := map[string]*rawSink{}
	defer func() {
		for _, k := range sinks {
			k.close()
		}
	}()
	first, err := newRawSink(ctx, e)
	if err != nil {
		return err
	}
	sinks["0"] = first
	sink := func(pair string) (*rawSink, error) {
		mu.Lock()
		defer mu.Unlock()
		if k := sinks[pair]; k != nil {
			return k, nil
		}
		k, err := newRawSink(ctx, e)
		if err == nil {
			sinks[pair] = k
		}
		return k, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /raw/{pair}", func(w http.ResponseWriter, r *http.Request) {
		n := r.ContentLength
		if n < 0 || n > MaxSize {
			http.Error(w, fmt.Sprintf("want a Content-Length of at most %d bytes", MaxSize), http.StatusLengthRequired)
			return
		}
		pair := r.PathValue("pair")
		k, err := sink(pair)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		k.mu.Lock()
		defer k.mu.Unlock()
		resp, ret, err := k.serve(r.Context(), r.Body, n)
		if err != nil {
			// A trap: the next request gets a new instance.
			mu.Lock()
			if sinks[pair] == k {
				delete(sinks, pair)
			}
			mu.Unlock()
			k.close()
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if resp == nil {
			why := fmt.Sprint(ret)
			if ret < 0 {
				why += " (" + abi.Code(ret).Error() + ")"
			}
			http.Error(w, "rawsink responded nothing: raw_handle returned "+why, http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(resp)
	})
	return serveHTTP(mux, in, out)
}
