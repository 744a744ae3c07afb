package tests

// Chunked request bodies, sent by a real curl process straight to a node
// and through a real nginx in front of it (proxy_request_buffering off:
// nginx passes the body on chunked as it comes).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/internal/privileged"
)

// requireTool returns the path of a command, skipping the test (failing
// it with RR_REQUIRE_PRIVILEGED=1) where it is not installed.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		for _, dir := range []string{"/usr/sbin", "/sbin"} {
			if p := filepath.Join(dir, name); fileExists(p) {
				return p
			}
		}
		privileged.Skip(t, name+" is not installed (apt-get install "+name+")")
	}
	return path
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// freePort returns a loopback address free when asked.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startNginx runs nginx in the foreground as a reverse proxy to upstream,
// with its config, pid file and logs in a temporary directory, and returns
// its address.
func startNginx(t *testing.T, upstream string) string {
	t.Helper()
	bin := requireTool(t, "nginx")
	dir := t.TempDir()
	addr := freePort(t)
	conf := fmt.Sprintf(`
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
worker_processes 1;
events { worker_connections 64; }
http {
	access_log %[1]s/access.log;
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	client_max_body_size 0;
	server {
		listen %[2]s;
		location / {
			proxy_pass http://%[3]s;
			proxy_http_version 1.1;
			proxy_request_buffering off;
			proxy_buffering off;
		}
	}
}
`, dir, addr, upstream)
	file := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", file, "-g", "daemon off;")
	// Its own process group: the master and its worker end together.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	outFile, err := os.Create(filepath.Join(dir, "output"))
	if err != nil {
		t.Fatal(err)
	}
	defer outFile.Close()
	cmd.Stdout, cmd.Stderr = outFile, outFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	output := func() string {
		out, _ := os.ReadFile(filepath.Join(dir, "output"))
		log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		return string(out) + "\nerror.log:\n" + string(log)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
		if t.Failed() {
			t.Logf("nginx output:\n%s", output())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		select {
		case <-exited:
			t.Fatalf("nginx exited:\n%s", output())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("nginx not listening within 30s")
		}
	}
}

// curlChunked posts the file at path to url with curl, chunked, and
// returns the status and the body of the answer.
func curlChunked(t *testing.T, url, path string) (int, []byte) {
	t.Helper()
	curl := requireTool(t, "curl")
	out := filepath.Join(t.TempDir(), "answer")
	cmd := exec.Command(curl, "-sS", "-o", out, "-w", "%{http_code}", "-H", "Transfer-Encoding: chunked",
		"-H", "Content-Type: application/octet-stream", "--data-binary", "@"+path, url)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	code, err := cmd.Output()
	if err != nil {
		t.Fatalf("curl %s: %v: %s", url, err, stderr.String())
	}
	status, err := strconv.Atoi(strings.TrimSpace(string(code)))
	if err != nil {
		t.Fatalf("curl %s: status %q", url, code)
	}
	body, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return status, body
}

// TestChunkedBodies sends chunked bodies of 0 B, 1 KiB, 1 MiB and one
// over max_payload with curl, straight to the node and through nginx: the
// first three reach the function (echo replies every byte), the last gets
// 413 with the JSON error and reaches nothing (rr_invocations_total says
// too_large, and the receiving function counts no call).
func TestChunkedBodies(t *testing.T) {
	tr := buildAll(t)
	dir := t.TempDir()
	const maxPayload = 2 << 20
	config := nodeConfig{name: "c", maxPayload: "2MiB", functions: []fn{
		{name: "echo", module: "echo", pool: 2},
		{name: "counter", module: "counter", pool: 1},
	}}.write(t, tr, dir)
	n := launch(t, tr, "c", config, launchOpts{})
	proxy := startNginx(t, n.Addr())

	for _, via := range []struct{ name, base string }{{"direct", n.URL()}, {"nginx", "http://" + proxy}} {
		t.Run(via.name, func(t *testing.T) {
			for _, size := range []int{0, 1 << 10, 1 << 20} {
				file := filepath.Join(t.TempDir(), "body")
				payload := pattern(size)
				if err := os.WriteFile(file, payload, 0o644); err != nil {
					t.Fatal(err)
				}
				status, body := curlChunked(t, via.base+"/v1/functions/echo", file)
				if status != 200 || !bytes.Equal(body, payload) {
					t.Errorf("%d bytes chunked: status %d, %d bytes back, want 200 and the payload", size, status, len(body))
				}
			}
			before := n.metrics(t).get("rr_invocations_total", `function="counter",result="too_large"`)
			calls := counterCalls(t, n)
			file := filepath.Join(t.TempDir(), "big")
			if err := os.WriteFile(file, pattern(maxPayload+1), 0o644); err != nil {
				t.Fatal(err)
			}
			status, body := curlChunked(t, via.base+"/v1/functions/counter", file)
			var e struct {
				Error, Label, Function string
			}
			if err := json.Unmarshal(body, &e); status != 413 || err != nil || e.Label != "too_large" || e.Function != "counter" ||
				!strings.Contains(e.Error, "chunked body over function counter's max_payload of 2097152 bytes") {
				t.Fatalf("a chunked body over max_payload: status %d, body %s, want 413 and the JSON error", status, body)
			}
			if got := n.metrics(t).get("rr_invocations_total", `function="counter",result="too_large"`); got != before+1 {
				t.Errorf("rr_invocations_total{function=counter,result=too_large} went %v -> %v, want +1", before, got)
			}
			if got := counterCalls(t, n); got != calls+1 { // +1: this count's own call
				t.Errorf("the counter's rr_alloc/rr_handle calls went %d -> %d: the refused body reached it", calls, got)
			}
		})
	}
}

// counterCalls asks the counter guest how often its rr_handle ran, this
// call included.
func counterCalls(t *testing.T, n *rnode) int {
	t.Helper()
	a := n.invoke(t, "counter", []byte("count"))
	var allocs, handles int
	if _, err := fmt.Sscanf(string(a.body), "allocs=%d handles=%d", &allocs, &handles); err != nil || a.status != 200 || allocs != handles {
		t.Fatalf("counter: status %d, %q", a.status, a.body)
	}
	return handles
}
