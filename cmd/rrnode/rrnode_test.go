package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/internal/privileged"
	"github.com/roadrunner-wasm/roadrunner/internal/wasmbuild"
	"github.com/roadrunner-wasm/roadrunner/transport/features"
)

var cacheDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rrnode-cache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cacheDir = dir
	code := m.Run()
	wasmbuild.Cleanup()
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer is a bytes.Buffer safe for the node's goroutines and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// result is one run of the command line.
type result struct {
	code     int
	out, err string
}

func rrnode(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errb syncBuffer
	code := run(context.Background(), args, stdio{in: strings.NewReader(stdin), out: &out, err: &errb})
	return result{code, out.String(), errb.String()}
}

const guests = "github.com/roadrunner-wasm/roadrunner/node/testdata/"

// writeConfig writes a node config with the echo and relay test guests.
func writeConfig(t *testing.T, extra string) string {
	t.Helper()
	cfg := fmt.Sprintf(`
node:
  name: cmdtest
  http: 127.0.0.1:1   # overridden by --http
  cache_dir: %s
  drain_timeout: 1m
  drain_delay: 0
functions:
  - {name: echo, module: %s, pool: 2}
  - {name: relay, module: %s, pool: 2}
%s`, cacheDir, wasmbuild.ForTest(t, guests+"echo"), wasmbuild.ForTest(t, guests+"relay"), extra)
	path := filepath.Join(t.TempDir(), "node.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// startNode runs `rrnode start` in this process on a free loopback port and
// returns the ingress URL. The node stops, as on SIGINT, when the test ends;
// the test then checks it exited 0 after draining.
func startNode(t *testing.T, args ...string) (addr string, logs *syncBuffer) {
	t.Helper()
	return startNodeWith(t, writeConfig(t, ""), args...)
}

// startNodeConfig is startNode on the config file config.
func startNodeConfig(t *testing.T, config string) string {
	t.Helper()
	addr, _ := startNodeWith(t, config)
	return addr
}

func startNodeWith(t *testing.T, config string, args ...string) (addr string, logs *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs = &syncBuffer{}
	exited := make(chan int, 1)
	args = append([]string{"start", "--config", config, "--http", "127.0.0.1:0", "--log-format", "json"}, args...)
	go func() { exited <- run(ctx, args, stdio{in: strings.NewReader(""), out: logs, err: logs}) }()
	t.Cleanup(func() {
		cancel()
		if code := <-exited; code != 0 {
			t.Errorf("rrnode start exited %d after SIGINT-like stop:\n%s", code, logs)
		}
		if !strings.Contains(logs.String(), `"msg":"node stopped"`) {
			t.Errorf("no clean stop in the log:\n%s", logs)
		}
	})
	for {
		for _, line := range strings.Split(logs.String(), "\n") {
			var rec struct{ Msg, HTTP string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "node started" {
				return "http://" + rec.HTTP, logs
			}
		}
		select {
		case code := <-exited:
			exited <- code
			t.Fatalf("rrnode start exited %d:\n%s", code, logs)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func TestInvoke(t *testing.T) {
	addr, _ := startNode(t)
	file := filepath.Join(t.TempDir(), "payload")
	content := bytes.Repeat([]byte("roadrunner "), 10000)
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(file, content, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"text", "", []string{"--data", "hello"}, "hello"},
		{"file", "", []string{"--data", "@" + file}, string(content)},
		{"stdin", "from stdin", []string{"--data", "-"}, "from stdin"},
		{"empty", "", nil, ""},
		{"empty file", "", []string{"--data", "@" + empty}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rrnode(t, tc.stdin, append([]string{"invoke", "echo", "--addr", addr}, tc.args...)...)
			if r.code != 0 || r.out != tc.want {
				t.Fatalf("exit %d, stdout %.100q (want %.100q), stderr %s", r.code, r.out, tc.want, r.err)
			}
		})
	}
}

func TestInvokeTrace(t *testing.T) {
	addr, _ := startNode(t)
	r := rrnode(t, "", "invoke", "relay", "--addr", addr, "--trace", "--data", "forward echo\nabc")
	if r.code != 0 || r.out != "abc" {
		t.Fatalf("exit %d, stdout %q, stderr %s", r.code, r.out, r.err)
	}
	lines := strings.Split(strings.TrimSpace(r.err), "\n")
	if len(lines) != 2 ||
		!strings.HasPrefix(lines[0], "hop http -> relay path=http bytes=16 ") || !strings.HasSuffix(lines[0], " result=ok") ||
		!strings.HasPrefix(lines[1], "hop relay -> echo path=memory bytes=3 ") || !strings.HasSuffix(lines[1], " result=ok") {
		t.Errorf("--trace printed:\n%s", r.err)
	}
}

func TestInvokeFailures(t *testing.T) {
	addr, _ := startNode(t)
	r := rrnode(t, "", "invoke", "nosuch", "--addr", addr, "--data", "x", "--trace")
	if r.code != 1 || !strings.Contains(r.err, "404") || !strings.Contains(r.err, `unknown function "nosuch"`) ||
		!strings.Contains(r.err, "result=unknown_function") {
		t.Errorf("unknown function: exit %d, stderr %s", r.code, r.err)
	}
	r = rrnode(t, "", "invoke", "relay", "--addr", addr, "--data", "fail")
	if r.code != 1 || !strings.Contains(r.err, "500") || !strings.Contains(r.err, "rr_handle returned 1") {
		t.Errorf("failing handler: exit %d, stderr %s", r.code, r.err)
	}
	// A failure after the reply: the reply is printed, the exit status says
	// the invocation failed.
	r = rrnode(t, "", "invoke", "relay", "--addr", addr, "--data", "replythenfail")
	if r.code != 1 || r.out != "partial" || !strings.Contains(r.err, "failed after its reply") {
		t.Errorf("failure after the reply: exit %d, stdout %q, stderr %s", r.code, r.out, r.err)
	}
	r = rrnode(t, "", "invoke", "echo", "--addr", addr, "--data", "@"+filepath.Join(t.TempDir(), "absent"))
	if r.code != 1 || !strings.Contains(r.err, "no such file") {
		t.Errorf("missing --data file: exit %d, stderr %s", r.code, r.err)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"invoke"},
		{"invoke", "a", "b"},
		{"invoke", "echo", "--addr", "127.0.0.1:8080"}, // not a URL
		{"invoke", "echo", "--data", "@"},
		{"invoke", "echo", "--bogus"},
		{"start"},
		{"start", "--config", "x.yaml", "--accel", "fast"},
		{"start", "--config", "x.yaml", "--log-level", "loud"},
		{"start", "--config", "x.yaml", "--http", "8080"},
		{"version", "extra"},
	} {
		if r := rrnode(t, "", args...); r.code != 2 || !strings.HasPrefix(r.err, "rrnode: ") {
			t.Errorf("rrnode %s: exit %d, stderr %q, want a usage error (exit 2)", strings.Join(args, " "), r.code, r.err)
		}
	}
}

// TestStartBadPort: a port out of range or unknown is blamed on the flag
// that gave it, not on the config file it overrides.
func TestStartBadPort(t *testing.T) {
	path := writeConfig(t, "")
	for _, c := range []struct{ flag, value, want string }{
		{"--listen-tcp", "1.2.3.4:99999", `rrnode: --listen-tcp "1.2.3.4:99999": port 99999 is out of range 0..65535`},
		{"--http", "127.0.0.1:65536", `rrnode: --http "127.0.0.1:65536": port 65536 is out of range 0..65535`},
		{"--http", "127.0.0.1:no-such-service", `rrnode: --http "127.0.0.1:no-such-service": port "no-such-service" is neither a number 0..65535 nor a known service name`},
		{"--listen-tcp", "127.0.0.1:", `rrnode: --listen-tcp "127.0.0.1:": port "" is neither`},
	} {
		r := rrnode(t, "", "start", "--config", path, c.flag, c.value)
		if r.code != 2 || !strings.HasPrefix(r.err, c.want) || strings.Contains(r.err, path) {
			t.Errorf("%s %s: exit %d, stderr %q, want exit 2 and %q", c.flag, c.value, r.code, r.err, c.want)
		}
	}
}

func TestStartBadConfig(t *testing.T) {
	path := writeConfig(t, "  - {name: echo, module: x.wasm}\n")
	r := rrnode(t, "", "start", "--config", path, "--http", "127.0.0.1:0")
	if want := "rrnode: config " + path + ": functions[2].name: duplicate function \"echo\""; r.code != 1 || !strings.Contains(r.err, want) {
		t.Fatalf("exit %d, stderr %q, want %q", r.code, r.err, want)
	}
}

func TestStartAccel(t *testing.T) {
	// A pin directory off bpffs: the sockmap is refused, and
	// --strict-accel makes that a start-up error that says why.
	b, err := os.ReadFile(writeConfig(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	cfg := strings.Replace(string(b), "node:\n", "node:\n  sockmap_pin_dir: "+t.TempDir()+"\n", 1)
	if err := os.WriteFile(bad, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	r := rrnode(t, "", "start", "--config", bad, "--http", "127.0.0.1:0", "--accel", "sockmap", "--strict-accel")
	if r.code != 1 || !strings.Contains(r.err, "accel sockmap: refused, and strict accel refuses the fallback") {
		t.Fatalf("--strict-accel with a pin directory off bpffs: exit %d, stderr %s", r.code, r.err)
	}

	// Both accelerators where the host allows them: strict starts.
	for _, probe := range []func() error{features.HaveIOURing, features.HaveSockmap} {
		if err := probe(); err != nil {
			privileged.Skip(t, err.Error())
		}
	}
	_, logs := startNode(t, "--accel", "iouring,sockmap", "--strict-accel")
	for _, a := range []string{"iouring", "sockmap"} {
		if !strings.Contains(logs.String(), `"msg":"accelerator on","accel":"`+a+`"`) {
			t.Errorf("no %q accelerator on in the log:\n%s", a, logs)
		}
	}
}

func TestVersion(t *testing.T) {
	r := rrnode(t, "", "version")
	if r.code != 0 || !strings.HasPrefix(r.out, "rrnode ") || !strings.Contains(r.out, "\ngo go1.") || !strings.Contains(r.out, "engines: wazero v") {
		t.Fatalf("exit %d, stdout %q", r.code, r.out)
	}
}

func TestHealth(t *testing.T) {
	addr, _ := startNode(t)
	if r := rrnode(t, "", "health", "--addr", addr); r.code != 0 || !strings.Contains(r.out, "/healthz: ok") {
		t.Fatalf("health of a running node: exit %d, stdout %q, stderr %q", r.code, r.out, r.err)
	}
	if r := rrnode(t, "", "health", "--ready", "--addr", addr); r.code != 0 || !strings.Contains(r.out, "/readyz: ok") {
		t.Fatalf("readiness of a running node: exit %d, stdout %q, stderr %q", r.code, r.out, r.err)
	}
	// A port nothing listens on (the node's, once it has stopped, is not
	// known to stay free): a refused connection.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	if r := rrnode(t, "", "health", "--addr", dead, "--timeout", "2s"); r.code != 1 || !strings.Contains(r.err, "health:") {
		t.Fatalf("health of nothing: exit %d, stderr %q; want 1 and the reason", r.code, r.err)
	}
	if r := rrnode(t, "", "health", "extra"); r.code != 2 {
		t.Fatalf("health extra: exit %d, want a usage error", r.code)
	}
}
