package node_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/node"
	"github.com/roadrunner-wasm/roadrunner/transport"
)

// backConfig is the node that receives: it listens on {{listen}}.
const backConfig = `
node:
  name: back
  max_payload: 8MiB
  invocation_timeout: 60s
  cache_dir: {{cache}}
  listen:
{{listen}}
functions:
  - {name: echo, module: {{echo}}, pool: 2}
  - {name: brelay, module: {{relay}}, pool: 2}
  - {name: counter, module: {{counter}}, pool: 1, max_payload: 1KiB}
`

// frontConfig sends to back's functions through its peer address; "ghost"
// is listed for back but back does not host it.
const frontConfig = `
node:
  name: front
  max_payload: 8MiB
  invocation_timeout: 60s
  cache_dir: {{cache}}
functions:
  - {name: relay, module: {{relay}}, pool: 4}
peers:
  - name: back
    address: {{address}}
    functions: [echo, brelay, counter, ghost]
    max_conns: 2
`

// startPair starts back (with backOpts) listening on path and front with
// back as its peer.
func startPair(t *testing.T, path transport.Path, backOpts *node.Options) (front, back *testNode) {
	t.Helper()
	return startPairOpts(t, path, nil, backOpts)
}

// startPairOpts is startPair with front's options too.
func startPairOpts(t *testing.T, path transport.Path, frontOpts, backOpts *node.Options) (front, back *testNode) {
	t.Helper()
	var listen string
	switch path {
	case transport.PathUnix:
		listen = "    unix: " + filepath.Join(t.TempDir(), "back.sock")
	case transport.PathTCP:
		listen = "    tcp: 127.0.0.1:0"
	}
	back = startNode(t, strings.Replace(backConfig, "{{listen}}", listen, 1), backOpts)
	lns, err := back.Listen(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ln := lns[path]
	if ln == nil || len(lns) != 1 {
		t.Fatalf("Listen opened %v, want the %s listener only", lns, path)
	}
	go back.ServeTransport(path, ln)
	address := path.String() + "://" + ln.Addr().String()
	front = startNode(t, strings.Replace(frontConfig, "{{address}}", address, 1), frontOpts)
	return front, back
}

func TestRemote(t *testing.T) {
	for _, path := range []transport.Path{transport.PathUnix, transport.PathTCP} {
		t.Run(path.String(), func(t *testing.T) {
			front, back := startPair(t, path, nil)

			if path == transport.PathUnix {
				sock := back.Config().Node.Listen.Unix
				fi, err := os.Lstat(sock)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
					t.Fatalf("%s: mode %v, want a 0600 socket", sock, fi.Mode())
				}
			}

			t.Run("reply travels back", func(t *testing.T) {
				for _, size := range []int{0, 1, 1 << 20, 4 << 20} {
					data := pattern(size)
					r := front.invoke(t, "relay", append([]byte("forward echo\n"), data...))
					if r.status != 200 || !bytes.Equal(r.body, data) {
						t.Fatalf("%d B: status %d, %d bytes back", size, r.status, len(r.body))
					}
					tr := r.trace(t)
					want := node.Trace{
						{From: "http", To: "relay", Path: "http", Bytes: uint64(len("forward echo\n") + size), Result: "ok"},
						{From: "relay", To: "echo", Path: path.String(), Bytes: uint64(size), Result: "ok"},
					}
					if len(tr) != len(want) {
						t.Fatalf("trace %+v", tr)
					}
					for i := range tr {
						if tr[i].TransferNS <= 0 || tr[i].TransferNS > tr[i].TotalNS {
							t.Errorf("hop %d: transfer %d ns, total %d ns", i, tr[i].TransferNS, tr[i].TotalNS)
						}
						tr[i].TransferNS, tr[i].TotalNS = 0, 0
						if tr[i] != want[i] {
							t.Errorf("hop %d: %+v, want %+v", i, tr[i], want[i])
						}
					}
				}
				// Counted by the mechanism that carried them: front's
				// sends (writev on unix, write on tcp: auto on loopback),
				// back's plain reads.
				sent := transport.MechanismWritev
				if path == transport.PathTCP {
					sent = transport.MechanismWrite
				}
				series := fmt.Sprintf(`rr_transfers_total{mechanism=%q,path=%q,result="ok"}`, sent, path)
				if got := front.metric(t, series); got != 4 {
					t.Errorf("front %s = %v, want 4", series, got)
				}
				series = fmt.Sprintf(`rr_transfers_total{mechanism="read",path=%q,result="ok"}`, path)
				if got := back.metric(t, series); got != 4 {
					t.Errorf("back %s = %v, want 4 (the ingress hops from front)", series, got)
				}
				if got := back.metric(t, `rr_invocations_total{function="echo",result="ok"}`); got != 4 {
					t.Errorf("back's echo handled %v payloads, want 4", got)
				}
			})

			t.Run("codes of the receiver", func(t *testing.T) {
				for _, c := range []struct {
					cmd  string
					data []byte
					want string
				}{
					{"send ghost", []byte("x"), "-2"},                                            // unknown_function: back does not host it
					{"send counter", make([]byte, 2048), "-3"},                                   // too_large: over counter's own max_payload
					{"send brelay", []byte("fail"), "-5"},                                        // receiver_failed
					{"send brelay", []byte("panic"), "-6"},                                       // receiver_trapped
					{"forward echo", bytes.Repeat([]byte("y"), 5000), strings.Repeat("y", 5000)}, // and the peer still serves
				} {
					r := front.invoke(t, "relay", append([]byte(c.cmd+"\n"), c.data...))
					if r.status != 200 || string(r.body) != c.want {
						t.Errorf("%s (%d B): status %d, body %.40q; want %.40q", c.cmd, len(c.data), r.status, r.body, c.want)
					}
				}
				if got := back.metric(t, fmt.Sprintf(`rr_frames_refused_total{path=%q,reason="unknown_function"}`, path)); got != 1 {
					t.Errorf("back counted %v unknown_function refusals, want 1", got)
				}
			})

			t.Run("concurrent", func(t *testing.T) {
				errs := make(chan error, 8)
				for g := range 8 {
					go func() {
						for i := range 10 {
							data := pattern(1000 + 37*g + i)
							r := front.invoke(t, "relay", append([]byte("forward echo\n"), data...))
							if r.status != 200 || !bytes.Equal(r.body, data) {
								errs <- fmt.Errorf("goroutine %d, transfer %d: status %d", g, i, r.status)
								return
							}
						}
						errs <- nil
					}()
				}
				for range 8 {
					if err := <-errs; err != nil {
						t.Error(err)
					}
				}
				if open := front.metric(t, `rr_peer_connections{peer="back"}`); open > 2 {
					t.Errorf("%v connections to back, want at most max_conns 2", open)
				}
			})

			t.Run("peer gone", func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				if err := back.Shutdown(ctx); err != nil {
					t.Fatal(err)
				}
				r := front.invoke(t, "relay", []byte("send echo\nhello"))
				if r.status != 200 || string(r.body) != "-4" {
					t.Fatalf("send to a stopped peer: status %d, body %q; want -4 (transport)", r.status, r.body)
				}
				if path == transport.PathUnix {
					if _, err := os.Lstat(back.Config().Node.Listen.Unix); err == nil {
						t.Errorf("socket file left behind by a clean shutdown")
					}
				}
			})
		})
	}
}
