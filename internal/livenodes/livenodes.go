package livenodes

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/internal/wasmbuild"
	"github.com/roadrunner-wasm/roadrunner/node"
	"github.com/roadrunner-wasm/roadrunner/transport"
)

// Node is one of the nodes Start made, serving HTTP on URL.
type Node struct {
	*node.Node
	URL string // http://127.0.0.1:port
}

// Nodes are the nodes Start made.
type Nodes struct {
	Front *Node // hosts echo and relay; sends to Unix and TCP
	Unix  *Node // hosts uecho, reached over its unix socket
	TCP   *Node // hosts techo, reached over tcp
}

// All lists the nodes, front first.
func (ns *Nodes) All() []*Node { return []*Node{ns.Front, ns.Unix, ns.TCP} }

const testdata = "github.com/roadrunner-wasm/roadrunner/node/testdata/"

const backConfig = `
node:
  name: %s
  invocation_timeout: 60s
  cache_dir: %s
  auth: {keys: %s}
  listen:
    %s: %s
functions:
  - {name: %s, module: %s, pool: 2}
`

const frontConfig = `
node:
  name: front
  invocation_timeout: 60s
  dial_timeout: 10s
  cache_dir: %s
  auth: {keys: %s}
functions:
  - {name: echo, module: %s, pool: 2}
  - {name: relay, module: %s, pool: 2}
peers:
  - {name: bunix, address: %q, functions: [uecho]}
  - {name: btcp, address: %q, functions: [techo, nothere]}
  - {name: gone, address: %q, functions: [ghost]}
`

// Start starts the nodes, drives the traffic Package livenodes describes
// and returns once every node has counted its part of it.
func Start(tb testing.TB) *Nodes {
	tb.Helper()
	dir := tb.TempDir()
	keys := filepath.Join(dir, "keys")
	if err := os.WriteFile(keys, []byte(transport.GenerateKey()+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	echo := wasmbuild.ForTest(tb, testdata+"echo")
	relay := wasmbuild.ForTest(tb, testdata+"relay")
	cache := filepath.Join(dir, "cache") // shared: each module compiles once

	sock := filepath.Join(dir, "bunix.sock")
	ns := &Nodes{}
	ns.Unix, _ = start(tb, dir, fmt.Sprintf(backConfig, "bunix", cache, keys, "unix", sock, "uecho", echo), nil)
	var addrs map[transport.Path]net.Addr
	ns.TCP, addrs = start(tb, dir, fmt.Sprintf(backConfig, "btcp", cache, keys, "tcp", "127.0.0.1:0", "techo", echo), nil)
	tcpAddr := addrs[transport.PathTCP].String()
	ns.Front, _ = start(tb, dir, fmt.Sprintf(frontConfig, cache, keys, echo, relay,
		"unix://"+sock, "tcp://"+tcpAddr, "unix://"+filepath.Join(dir, "nobody.sock")),
		// shm is asked for by name: payloads it cannot carry (to the tcp
		// peer; to the unix peer, which is not on it) count as fallbacks.
		&node.Options{Accel: transport.AccelShm})

	big := bytes.Repeat([]byte("0123456789abcdef"), transport.DefaultSharedMin/16+1)
	ctx := context.Background()
	invoke := func(body []byte) error {
		_, err := ns.Front.Invoke(ctx, "relay", uint64(len(body)), func(dst []byte) error {
			copy(dst, body)
			return nil
		}, io.Discard)
		return err
	}
	for _, to := range []string{"echo", "uecho", "techo"} {
		if err := invoke(append([]byte("forward "+to+"\n"), big...)); err != nil {
			tb.Fatalf("relay to %s: %v", to, err)
		}
	}
	for _, to := range []string{"nothere", "ghost"} {
		if err := invoke([]byte("forward " + to + "\nx")); err == nil {
			tb.Fatalf("relay to %s: no error, want one", to)
		}
	}
	resp, err := http.Post(ns.Front.URL+"/v1/functions/echo", "application/octet-stream", strings.NewReader("x"))
	if err != nil {
		tb.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("POST echo: status %d", resp.StatusCode)
	}

	// A dialer without the key: btcp refuses it for failing authentication.
	c, err := net.Dial("tcp", tcpAddr)
	if err != nil {
		tb.Fatal(err)
	}
	c.Write(bytes.Repeat([]byte{0xff}, 64))
	c.Close()
	WaitFor(tb, ns.TCP, "rr_auth_failures_total{")
	return ns
}

// start starts a node of config (written to a file in dir), serving HTTP
// on a loopback port and its transport listeners, and shuts it down when
// the test ends. It returns the transport listeners' addresses.
func start(tb testing.TB, dir, config string, opts *node.Options) (*Node, map[transport.Path]net.Addr) {
	tb.Helper()
	f, err := os.CreateTemp(dir, "node-*.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	f.WriteString(config)
	f.Close()
	cfg, err := node.LoadConfig(f.Name())
	if err != nil {
		tb.Fatal(err)
	}
	var o node.Options
	if opts != nil {
		o = *opts
	}
	logs := &logBuffer{}
	o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	n, err := node.New(context.Background(), cfg, &o)
	if err != nil {
		tb.Fatal(err)
	}
	var serving []chan error
	serve := func(f func() error) {
		done := make(chan error, 1)
		serving = append(serving, done)
		go func() { done <- f() }()
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			tb.Errorf("shutdown %s: %v", n.Name(), err)
		}
		for _, done := range serving {
			if err := <-done; err != nil {
				tb.Errorf("%s: %v", n.Name(), err)
			}
		}
		if tb.Failed() {
			tb.Logf("%s's log:\n%s", n.Name(), logs.String())
		}
	})
	lns, err := n.Listen(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	addrs := map[transport.Path]net.Addr{}
	for path, ln := range lns {
		addrs[path] = ln.Addr()
		serve(func() error { return n.ServeTransport(path, ln) })
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	serve(func() error { return n.Serve(ln) })
	return &Node{Node: n, URL: "http://" + ln.Addr().String()}, addrs
}

// Scrape returns n's /metrics, in the text format.
func Scrape(tb testing.TB, n *Node) string {
	tb.Helper()
	resp, err := http.Get(n.URL + "/metrics")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s/metrics: status %d: %s", n.URL, resp.StatusCode, b)
	}
	return string(b)
}

// WaitFor polls n's /metrics until a line starts with prefix, for a count
// the node makes after the event that causes it (a connection another
// goroutine serves); it fails the test after a minute.
func WaitFor(tb testing.TB, n *Node, prefix string) {
	tb.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		for _, line := range strings.Split(Scrape(tb, n), "\n") {
			if strings.HasPrefix(line, prefix) {
				return
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s: no %s… in /metrics after a minute", n.Name(), prefix)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
