package tests

// Two or more rrnode processes on one host, over the unix path and the tcp
// path on loopback: the pipeline across nodes, buffer reuse, bad input from
// a raw connection, and a peer killed mid-transfer. The tcp path between
// network namespaces is in netns_test.go; the seccomp fallback in
// seccomp_test.go.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/internal/netns"
	"github.com/roadrunner-wasm/roadrunner/internal/nodeproc"
	reusepat "github.com/roadrunner-wasm/roadrunner/tests/testdata/pattern"
	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

// Node a runs the producer; node b, another process, the transform and
// the consumer, and listens on a unix socket that a has as its peer.
func TestUnixPipeline(t *testing.T) {
	tr := buildAll(t)
	dir := shortDir(t)
	sock := filepath.Join(dir, "b.sock")
	b := launch(t, tr, "b", nodeConfig{name: "b", listenUnix: sock, functions: []fn{transformFn, consumerFn}}.write(t, tr, dir), launchOpts{})
	if got := b.listenAddr(t, "unix"); got != sock {
		t.Errorf("b listens on %q, want %q", got, sock)
	}
	st, err := os.Lstat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Type() != os.ModeSocket || st.Mode().Perm() != 0o600 {
		t.Errorf("socket file %s: mode %v, want a socket with 0600 (the default unix_mode)", sock, st.Mode())
	}

	a := launch(t, tr, "a", nodeConfig{
		name:      "a",
		functions: []fn{producerFn},
		peers:     []peer{{name: "b", address: "unix://" + sock, functions: []string{"transform", "consumer"}}},
	}.write(t, tr, dir), launchOpts{})

	aBefore, bBefore := a.metrics(t), b.metrics(t)
	runPipeline(t, a, remoteSizes, "unix", "memory")
	aAfter, bAfter := a.metrics(t), b.metrics(t)

	k := float64(len(remoteSizes))
	var sum float64
	for _, s := range remoteSizes {
		sum += float64(s + 16)
	}
	for _, c := range []struct {
		node          string
		before, after metrics
		name, labels  string
		want          float64
	}{
		{"a", aBefore, aAfter, "rr_transfers_total", `path="unix",result="ok"`, k},
		{"a", aBefore, aAfter, "rr_transfer_bytes_total", `path="unix",result="ok"`, sum},
		{"a", aBefore, aAfter, "rr_invocations_total", `function="producer",result="ok"`, k},
		{"b", bBefore, bAfter, "rr_invocations_total", `function="transform",result="ok"`, k},
		{"b", bBefore, bAfter, "rr_invocations_total", `function="consumer",result="ok"`, k},
		{"b", bBefore, bAfter, "rr_transfers_total", `path="memory",result="ok"`, k},
	} {
		if got := c.after.get(c.name, c.labels) - c.before.get(c.name, c.labels); got != c.want {
			t.Errorf("node %s: %s{%s} grew by %v, want %v", c.node, c.name, c.labels, got, c.want)
		}
	}
	if got := aAfter.sum("rr_frames_refused_total") + bAfter.sum("rr_frames_refused_total"); got != 0 {
		t.Errorf("rr_frames_refused_total: %v, want 0", got)
	}
}

// The unix listener's socket file: the configured mode and group; a file
// that is not a socket is never replaced.
func TestUnixSocketFile(t *testing.T) {
	tr := buildAll(t)
	dir := shortDir(t)
	t.Run("mode and group", func(t *testing.T) {
		sock := filepath.Join(dir, "m.sock")
		c := nodeConfig{name: "m", listenUnix: sock, unixMode: "0640", functions: []fn{consumerFn}}
		gid := os.Getgid()
		if os.Geteuid() == 0 {
			gid = 1 // root may give the socket to any group
			c.unixGroup = "1"
		}
		launch(t, tr, "m", c.write(t, tr, dir), launchOpts{})
		st, err := os.Lstat(sock)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Type() != os.ModeSocket || st.Mode().Perm() != 0o640 {
			t.Errorf("socket mode %v, want a socket with 0640", st.Mode())
		}
		if got := st.Sys().(*syscall.Stat_t).Gid; int(got) != gid {
			t.Errorf("socket group %d, want %d", got, gid)
		}
	})
	t.Run("not a socket", func(t *testing.T) {
		file := filepath.Join(dir, "f.sock")
		if err := os.WriteFile(file, []byte("precious"), 0o644); err != nil {
			t.Fatal(err)
		}
		config := nodeConfig{name: "f", listenUnix: file, functions: []fn{consumerFn}}.write(t, tr, dir)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		n, err := nodeproc.Start(ctx, &nodeproc.Options{Binary: tr.rrnode, Config: config, Env: []string{"XDG_CACHE_HOME=" + filepath.Join(tr.dir, "cache")}})
		if err == nil {
			n.Stop()
			t.Fatalf("a node started with a regular file at its socket path %s", file)
		}
		if !strings.Contains(err.Error(), file) {
			t.Errorf("start: %v; want the error to name %s", err, file)
		}
		if b, err := os.ReadFile(file); err != nil || string(b) != "precious" {
			t.Errorf("the file at the socket path: %q, %v; want it untouched", b, err)
		}
	})
}

// reuseRuns is how many transfers a buffer-reuse run makes.
const reuseRuns = 1000

// runReuse has a's reuse guest send reuseRuns payloads of mixed sizes up to
// 64 MiB to b's verify guest over path, from one buffer that it overwrites
// the moment each send returns: every delivery must still verify.
func runReuse(t *testing.T, a, b *rnode, path string) {
	t.Helper()
	aBefore, bBefore := a.metrics(t), b.metrics(t)
	start := time.Now()
	ans := a.invokeWith(t, a.longTrailers(), "reuse", fmt.Appendf(nil, "run %d 4242 verify", reuseRuns))
	total := reusepat.Total(reuseRuns)
	if want := fmt.Sprintf("ok %d %d", reuseRuns, total); ans.status != http.StatusOK || string(ans.body) != want {
		t.Fatalf("reuse: status %d, body %q, want %q (\"fail I CODE\": transfer I failed with CODE; -5 is a payload that did not verify)", ans.status, ans.body, want)
	}
	d := time.Since(start)
	t.Logf("%d transfers, %d MiB over %s in %v (%.0f MiB/s)", reuseRuns, total>>20, path, d.Round(time.Millisecond), float64(total)/(1<<20)/d.Seconds())
	aAfter, bAfter := a.metrics(t), b.metrics(t)
	if got := bAfter.sum("rr_invocations_total", `function="verify"`) - bBefore.sum("rr_invocations_total", `function="verify"`); got != reuseRuns {
		t.Errorf("b: verify invoked %v times, want %d", got, reuseRuns)
	}
	if got := bAfter.get("rr_invocations_total", `function="verify",result="ok"`) - bBefore.get("rr_invocations_total", `function="verify",result="ok"`); got != reuseRuns {
		t.Errorf("b: verify ok %v times, want %d", got, reuseRuns)
	}
	labels := `path="` + path + `",result="ok"`
	if got := aAfter.get("rr_transfers_total", labels) - aBefore.get("rr_transfers_total", labels); got != reuseRuns {
		t.Errorf("a: rr_transfers_total{%s} grew by %v, want %d", labels, got, reuseRuns)
	}
}

var (
	reuseFn  = fn{name: "reuse", module: "reuse", uninterruptible: true}
	verifyFn = fn{name: "verify", module: "verify", uninterruptible: true}
)

func TestBufferReuse(t *testing.T) {
	tr := buildAll(t)
	t.Run("unix", func(t *testing.T) {
		dir := shortDir(t)
		sock := filepath.Join(dir, "b.sock")
		b := launch(t, tr, "b", nodeConfig{name: "b", listenUnix: sock, functions: []fn{verifyFn}}.write(t, tr, dir), launchOpts{})
		a := launch(t, tr, "a", nodeConfig{
			name:      "a",
			functions: []fn{reuseFn},
			peers:     []peer{{name: "b", address: "unix://" + sock, functions: []string{"verify"}}},
		}.write(t, tr, dir), launchOpts{})
		runReuse(t, a, b, "unix")
	})
	// vmsplice hands the guest's pages to the kernel by reference: the
	// mechanism where overwriting a buffer too early would show.
	t.Run("tcp splice", func(t *testing.T) {
		nsA, nsB := netns.ForTest(t, "reuse-a"), netns.ForTest(t, "reuse-b")
		if err := netns.Veth(nsA, "198.18.0.1/24", nsB, "198.18.0.2/24"); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		b := launch(t, tr, "b", nodeConfig{name: "b", listenTCP: "198.18.0.2:7070", insecureTCP: true, functions: []fn{verifyFn}}.write(t, tr, dir), launchOpts{ns: nsB})
		a := launch(t, tr, "a", nodeConfig{
			name:      "a",
			functions: []fn{reuseFn},
			peers:     []peer{{name: "b", address: "tcp://198.18.0.2:7070", functions: []string{"verify"}}},
		}.write(t, tr, dir), launchOpts{ns: nsA, args: []string{"--tcp-send", "splice"}})
		runReuse(t, a, b, "tcp")
		if got := a.metrics(t).get("rr_tcp_mechanism", `mechanism="splice",peer="b"`); got != 1 {
			t.Errorf(`a: rr_tcp_mechanism{mechanism="splice",peer="b"} = %v, want 1`, got)
		}
	})
}

// frameConn is a raw connection to a node's unix or tcp listener.
type frameConn struct {
	net.Conn
	id uint64
}

func dialFrames(t *testing.T, network, addr string) *frameConn {
	t.Helper()
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &frameConn{Conn: c}
}

// dataFrame is a DATA frame to name carrying payload.
func dataFrame(id uint64, name string, payload []byte) []byte {
	h := wire.Header{Kind: wire.KindData, NameLen: uint16(len(name)), PayloadLen: uint64(len(payload)), ID: id}
	b := wire.AppendHeader(nil, &h)
	b = append(b, name...)
	return append(b, payload...)
}

// send sends a DATA frame and returns its ACK's status.
func (c *frameConn) send(t *testing.T, to string, payload []byte) int32 {
	t.Helper()
	c.id++
	c.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(dataFrame(c.id, to, payload)); err != nil {
		t.Fatalf("good connection: write: %v", err)
	}
	var buf [wire.HeaderSize]byte
	h, err := wire.ReadHeader(c, &buf, wire.Limits{})
	if err != nil {
		t.Fatalf("good connection: read the ACK: %v", err)
	}
	if h.Kind != wire.KindAck || h.ID != c.id {
		t.Fatalf("good connection: got %+v, want the ACK of frame %d", h, c.id)
	}
	return h.Status
}

// awaitClosed reads from c until the peer closes it (EOF or a reset) and
// returns the ACKs that came first. It fails t if c stays open for 5 s.
func awaitClosed(t *testing.T, c net.Conn) []wire.Header {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var acks []wire.Header
	for {
		var buf [wire.HeaderSize]byte
		h, err := wire.ReadHeader(c, &buf, wire.Limits{})
		switch {
		case err == nil:
			acks = append(acks, h)
			continue
		case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.ErrUnexpectedEOF):
			return acks
		case errors.Is(err, os.ErrDeadlineExceeded):
			t.Fatalf("the node kept the connection open for 5 s (ACKs so far: %+v)", acks)
		default:
			t.Fatalf("read: %v, want EOF or a reset", err)
		}
	}
}

// counts asks b's counter guest how often the host called its rr_alloc and
// rr_handle (the question included).
func counts(t *testing.T, b *rnode) (allocs, handles int) {
	t.Helper()
	ans := b.invoke(t, "counter", []byte("count"))
	if _, err := fmt.Sscanf(string(ans.body), "allocs=%d handles=%d", &allocs, &handles); ans.status != http.StatusOK || err != nil {
		t.Fatalf("counter: status %d, %q: %v", ans.status, ans.body, err)
	}
	return allocs, handles
}

// A node that receives bad frames closes that connection with a logged
// reason and counts it, hands nothing of them to any guest, and keeps
// serving its other connections meanwhile.
func TestBadFrames(t *testing.T) {
	tr := buildAll(t)
	dir := shortDir(t)
	sock := filepath.Join(dir, "b.sock")
	const maxPayload = 1 << 20
	b := launch(t, tr, "b", nodeConfig{
		name:       "b",
		maxPayload: "1MiB",
		listenUnix: sock,
		listenTCP:  "127.0.0.1:0",
		functions: []fn{
			{name: "counter", module: "counter"}, // the target of the bad frames
			{name: "good", module: "counter"},    // of the good ones
		},
		// Refusals are logged at Warn a few per reason and interval, and
		// every one at Debug: the test reads each one's line.
	}.write(t, tr, dir), launchOpts{args: []string{"--log-level", "debug"}})
	addrs := map[string]string{"unix": b.listenAddr(t, "unix"), "tcp": b.listenAddr(t, "tcp")}

	valid := func(name string, n int) (wire.Header, []byte) {
		return wire.Header{Kind: wire.KindData, NameLen: uint16(len(name)), PayloadLen: uint64(n), ID: 1}, pattern(n)
	}
	frame := func(h wire.Header, name string, payload []byte) []byte {
		return append(append(wire.AppendHeader(nil, &h), name...), payload...)
	}
	cases := []struct {
		name string
		data func() []byte
		// end: "wait" leaves the connection open, "half" shuts down its
		// write side, "drop" closes it (a reset on tcp) right after data.
		end      string
		acks     []int32  // statuses of the ACKs the node may send before it closes
		log      []string // words of the log line that says why it closed
		payload  bool     // refused while reading the payload: the guest may have allocated for it
		refusals int      // rr_frames_refused_total must grow by this much
	}{
		{name: "bad magic", end: "wait", log: []string{"magic"}, data: func() []byte {
			h, p := valid("counter", 10)
			f := frame(h, "counter", p)
			copy(f, "XRF1")
			return f
		}},
		{name: "unknown kind", end: "wait", log: []string{"kind"}, data: func() []byte {
			h, p := valid("counter", 10)
			f := frame(h, "counter", p)
			f[4] = 9
			return f
		}},
		{name: "ACK from a sender", end: "wait", log: []string{"kind"}, data: func() []byte {
			h := wire.NewAck(1, 0)
			return wire.AppendHeader(nil, &h)
		}},
		{name: "oversized payload", end: "wait", acks: []int32{-3}, log: []string{"payload_len"}, data: func() []byte {
			h, _ := valid("counter", 0)
			h.PayloadLen = maxPayload + 1
			return frame(h, "counter", nil)
		}},
		{name: "payload of 4 GiB", end: "wait", log: []string{"payload_len"}, data: func() []byte {
			h, _ := valid("counter", 0)
			h.PayloadLen = 1 << 32
			return frame(h, "counter", nil)
		}},
		{name: "name too long", end: "wait", log: []string{"name_len"}, data: func() []byte {
			name := strings.Repeat("c", wire.MaxNameLen+1)
			h, p := valid(name, 10)
			return frame(h, name, p)
		}},
		{name: "bad name bytes", end: "wait", log: []string{"name"}, data: func() []byte {
			h, p := valid("coun/er", 10)
			return frame(h, "coun/er", p)
		}},
		{name: "unknown target", end: "wait", acks: []int32{-2}, log: []string{"nosuch", "unknown"}, data: func() []byte {
			h, p := valid("nosuch", 10)
			return frame(h, "nosuch", p)
		}},
		{name: "truncated payload", end: "half", payload: true, log: []string{"truncated"}, data: func() []byte {
			h, p := valid("counter", 1000)
			return frame(h, "counter", p)[:wire.HeaderSize+len("counter")+500]
		}},
		{name: "dropped mid-payload", end: "drop", payload: true, log: []string{"payload"}, data: func() []byte {
			h, p := valid("counter", 512<<10)
			return frame(h, "counter", p)[:wire.HeaderSize+len("counter")+256<<10]
		}},
		{name: "garbage", end: "wait", log: []string{"magic"}, data: func() []byte {
			g := pattern(4096)
			g[0] = 'Q'
			return g
		}},
	}
	for _, path := range []string{"unix", "tcp"} {
		t.Run(path, func(t *testing.T) {
			good := dialFrames(t, path, addrs[path])
			if st := good.send(t, "good", []byte("x")); st != 0 {
				t.Fatalf("good frame: status %d", st)
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					allocs0, handles0 := counts(t, b)
					m0 := b.metrics(t)
					mark := b.log.mark()

					bad := dialFrames(t, path, addrs[path])
					bad.SetWriteDeadline(time.Now().Add(5 * time.Second))
					bad.Write(c.data()) // the node may close before it has read all
					if st := good.send(t, "good", []byte("meanwhile")); st != 0 {
						t.Fatalf("good frame while the bad one is open: status %d", st)
					}
					switch c.end {
					case "half":
						bad.Conn.(interface{ CloseWrite() error }).CloseWrite()
					case "drop":
						if tc, ok := bad.Conn.(*net.TCPConn); ok {
							tc.SetLinger(0)
						}
						bad.Close()
					}
					if c.end != "drop" {
						for _, h := range awaitClosed(t, bad) {
							if h.Kind != wire.KindAck || !containsStatus(c.acks, h.Status) {
								t.Errorf("before closing, the node sent %+v; allowed: ACKs with status in %v", h, c.acks)
							}
							t.Logf("the node sent an ACK with status %d, flags %#x, then closed", h.Status, h.Flags)
						}
					}
					line := b.log.waitLine(t, mark, 5*time.Second, c.log...)
					t.Logf("logged: %s", line)
					if st := good.send(t, "good", []byte("after")); st != 0 {
						t.Fatalf("good frame after: status %d", st)
					}

					allocs1, handles1 := counts(t, b)
					m1 := b.metrics(t)
					replaced := `function="counter"`
					if m1.sum("rr_instances_replaced_total", replaced) != m0.sum("rr_instances_replaced_total", replaced) {
						// The counts started again with a new instance.
						t.Logf("counter's instance was replaced; its counts: %d allocs, %d handles", allocs1, handles1)
						if handles1 != 1 {
							t.Errorf("the new counter instance ran rr_handle %d times, want once (the count)", handles1)
						}
					} else {
						if handles1-handles0 != 1 {
							t.Errorf("counter's rr_handle ran %d times for the bad frame, want never: something of it reached the guest", handles1-handles0-1)
						}
						// A frame refused from its header or name costs the
						// guest nothing; one cut inside its payload, at most
						// the allocation it was being read into.
						if extra := allocs1 - allocs0 - 1; extra != 0 && (!c.payload || extra != 1) {
							t.Errorf("counter's rr_alloc ran %d times for the bad frame; want %s", extra, map[bool]string{false: "0: refused before any allocation", true: "at most 1"}[c.payload])
						}
					}
					if got := m1.get("rr_invocations_total", `function="counter",result="ok"`) - m0.get("rr_invocations_total", `function="counter",result="ok"`); got != 1 {
						t.Errorf(`rr_invocations_total{function="counter",result="ok"} grew by %v, want 1 (the count)`, got)
					}
					label := `path="` + path + `"`
					if got := m1.sum("rr_frames_refused_total", label) - m0.sum("rr_frames_refused_total", label); got != 1 {
						t.Errorf("rr_frames_refused_total{%s} grew by %v, want 1", label, got)
					}
				})
			}
			if got := b.metrics(t).get("rr_invocations_total", `function="good",result="ok"`); got < float64(1+2*len(cases)) {
				t.Errorf("good frames delivered: %v, want at least %d", got, 1+2*len(cases))
			}
		})
	}
}

func containsStatus(list []int32, s int32) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// The receiving node is killed (SIGKILL) while a's guest waits in send:
// send returns the transport code once the connection dies, not when the
// receiver's 60 s hold would have ended (the deadline, 30 s, is generous
// for a loaded machine and still far from the hold). A node started again
// on the same address (for unix, over the stale socket file) takes the
// next transfer.
func TestPeerKilled(t *testing.T) {
	tr := buildAll(t)
	for _, path := range []string{"unix", "tcp"} {
		t.Run(path, func(t *testing.T) {
			dir := shortDir(t)
			bc := nodeConfig{name: "b", functions: []fn{{name: "hold", module: "hold"}}}
			if path == "unix" {
				bc.listenUnix = filepath.Join(dir, "b.sock")
			} else {
				bc.listenTCP = "127.0.0.1:0"
			}
			bConfig := bc.write(t, tr, dir)
			b := launch(t, tr, "b", bConfig, launchOpts{})
			addr := b.listenAddr(t, path)
			if path == "tcp" {
				bc.listenTCP = addr // the restarted node takes the same port
				bConfig = bc.write(t, tr, dir)
			}
			a := launch(t, tr, "a", nodeConfig{
				name:      "a",
				functions: []fn{{name: "relay", module: "relay"}},
				peers:     []peer{{name: "b", address: path + "://" + addr, functions: []string{"hold"}}},
			}.write(t, tr, dir), launchOpts{})

			sendHold := func(ms int, filler int) string {
				t.Helper()
				ans := a.invoke(t, "relay", append(fmt.Appendf(nil, "send hold\n%d\n", ms), pattern(filler)...))
				if ans.status != http.StatusOK {
					t.Fatalf("relay: status %d, %q", ans.status, ans.body)
				}
				return string(ans.body)
			}
			if got := sendHold(0, 1<<20); got != "0" {
				t.Fatalf("send to b before the kill: %q, want 0", got)
			}

			if path == "unix" {
				// A live socket is not taken over by a second node.
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				n2, err := nodeproc.Start(ctx, &nodeproc.Options{Binary: tr.rrnode, Config: bConfig, Env: []string{"XDG_CACHE_HOME=" + filepath.Join(tr.dir, "cache")}})
				if err == nil {
					n2.Stop()
					t.Fatalf("a second node started on the live socket %s", addr)
				}
				if !strings.Contains(err.Error(), "in use") {
					t.Errorf("second node on a live socket: %v; want it to say the address is in use", err)
				}
				if _, err := os.Lstat(addr); err != nil {
					t.Fatalf("the live socket is gone after the second node's attempt: %v", err)
				}
			}

			before := a.metrics(t)
			mark := b.log.mark()
			type result struct {
				resp *http.Response
				err  error
				at   time.Time
			}
			done := make(chan result, 1)
			go func() {
				req, _ := http.NewRequest(http.MethodPost, a.URL()+"/v1/functions/relay",
					bytes.NewReader(append([]byte("send hold\n60000\n"), pattern(4<<20)...)))
				resp, err := a.Client().Do(req)
				done <- result{resp, err, time.Now()}
			}()
			b.log.waitLine(t, mark, 30*time.Second, "hold:", "holding 60000 ms")
			killed := time.Now()
			if err := b.Kill(); err != nil {
				t.Fatal(err)
			}
			var r result
			select {
			case r = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("a's invocation still running 30 s after b was killed: send waits for a hold that can no longer end")
			}
			if r.err != nil {
				t.Fatal(r.err)
			}
			ans := readAnswer(t, r.resp)
			if string(ans.body) != "-4" {
				t.Fatalf("after the kill: relay replied %q; want -4 (transport)", ans.body)
			}
			t.Logf("send returned -4 %v after the kill", r.at.Sub(killed).Round(time.Millisecond))
			label := `path="` + path + `",result="transport"`
			if got := a.metrics(t).get("rr_transfers_total", label) - before.get("rr_transfers_total", label); got != 1 {
				t.Errorf("a: rr_transfers_total{%s} grew by %v, want 1", label, got)
			}

			if path == "unix" {
				// What the restart must replace: SIGKILL leaves the file.
				if st, err := os.Lstat(addr); err != nil || st.Mode().Type() != os.ModeSocket {
					t.Fatalf("after SIGKILL: %s: %v, %v; want the stale socket file", addr, st, err)
				}
			}
			launch(t, tr, "b again", bConfig, launchOpts{})
			if got := sendHold(0, 1<<20); got != "0" {
				t.Fatalf("send to the restarted b: %q, want 0", got)
			}
		})
	}
}
