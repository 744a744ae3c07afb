package tests

// SIGTERM at each moment of rrnode start: the node stops, undoes what its
// start-up did (listeners, the unix socket, the sockmap's pins, the
// functions, the engine) and exits 0. The moments are made deterministic
// by rrnode's test-only RR_TEST_START_PAUSE hook (cmd/rrnode/startpause.go):
// the node logs that it paused at a stage and waits there for the signal.

import (
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/node"
)

func TestSignalWhileStarting(t *testing.T) {
	requireSockmap(t)
	tr := build(t)
	for _, c := range []struct {
		stage string // "" = after "node started"
		// made: what exists at the pause, and must be gone after the stop.
		pins, socket bool
		// ingress: the HTTP listener answers the start-up's probes at the
		// pause (/healthz 200, /readyz 503 starting, invocations 503).
		ingress bool
	}{
		{stage: "config"},                                         // nothing loaded
		{stage: "ingress"},                                        // config read, nothing listening
		{stage: "engine", ingress: true},                          // HTTP listener open, no engine yet
		{stage: "load", pins: true, ingress: true},                // inside the first module's compilation
		{stage: "listen", pins: true, ingress: true},              // every module compiled, no peer listener
		{stage: "serve", pins: true, socket: true, ingress: true}, // listeners open, the peer paths not served
		{stage: "", pins: true, socket: true},                     // started: a normal drain
	} {
		name := c.stage
		if name == "" {
			name = "started"
		}
		t.Run(name, func(t *testing.T) {
			dir := shortDir(t)
			pinDir := sockmapPinDir(t) // its cleanup fails the test if the pins stay
			sock := filepath.Join(dir, "n.sock")
			config := nodeConfig{
				name:          "n",
				listenUnix:    sock,
				listenTCP:     "127.0.0.1:0",
				sockmapPinDir: pinDir,
				functions:     []fn{producerFn, transformFn, consumerFn},
			}.write(t, tr, dir)

			p := startPaused(t, tr, config, c.stage, "--accel", "sockmap", "--strict-accel")
			log, exited := p.log, p.exited
			if c.stage == "" {
				waitLineOrExit(t, log, exited, "node started")
			} else {
				waitLineOrExit(t, log, exited, `msg="start-up paused"`, "stage="+c.stage)
			}
			// What the stop must undo is there.
			if _, err := os.Stat(pinDir); (err == nil) != c.pins {
				t.Fatalf("pin directory %s at the pause: %v, want it there: %v", pinDir, err, c.pins)
			}
			if _, err := os.Lstat(sock); (err == nil) != c.socket {
				t.Fatalf("socket %s at the pause: %v, want it there: %v", sock, err, c.socket)
			}
			if addr, found := httpAddr(log.since(0)); found != (c.ingress || c.stage == "") {
				t.Fatalf("HTTP listener at the pause: %v, want %v", found, !found)
			} else if c.ingress {
				checkStarting(t, "http://"+addr)
			}

			p.stop(t, "SIGTERM")

			out := log.since(0)
			stopped := `msg="stopped while starting" stage=` + c.stage + " "
			if c.stage == "" {
				if strings.Contains(out, "stopped while starting") || !strings.Contains(out, `msg="node stopped"`) {
					t.Errorf("a started node stopped by SIGTERM: want a drain, no \"stopped while starting\"")
				}
			} else if n := strings.Count(out, stopped); n != 1 {
				t.Errorf("%d lines with %q, want 1", n, stopped)
			} else {
				t.Log(log.waitLine(t, 0, 0, stopped))
			}
			if strings.Contains(out, "node started") != (c.stage == "") {
				t.Errorf("\"node started\" logged: %v, want %v", !(c.stage == ""), c.stage == "")
			}
			// Nothing left behind. The lock file sock.lock stays by design
			// (docs/RATIONALE.md): its flock went with the process.
			if _, err := os.Lstat(sock); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("socket %s after the stop: %v, want it removed", sock, err)
			}
			if _, err := os.Stat(pinDir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("pin directory %s after the stop: %v, want it removed", pinDir, err)
			}
		})
	}
}

// pausedNode is rrnode start run by startPaused.
type pausedNode struct {
	cmd     *exec.Cmd
	log     *logBuf
	exited  chan struct{} // closed when the process has exited
	waitErr error         // cmd.Wait's, set before exited is closed
}

// startPaused runs rrnode start on config with args, paused at start-up
// stage stage (RR_TEST_START_PAUSE; "" runs through), its output in log;
// the test's cleanup kills it if it still runs.
func startPaused(t *testing.T, tr tree, config, stage string, args ...string) *pausedNode {
	t.Helper()
	p := &pausedNode{log: &logBuf{}, exited: make(chan struct{})}
	p.cmd = exec.Command(tr.rrnode, append([]string{"start", "--config", config, "--http", "127.0.0.1:0"}, args...)...)
	p.cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+filepath.Join(tr.dir, "cache"), "RR_TEST_START_PAUSE="+stage)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.waitErr = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("rrnode output:\n%s", p.log.tail(16<<10))
		}
	})
	return p
}

// stop sends SIGTERM and fails t unless the process exits with status 0
// within a minute (a bound against a hang); what says what came before.
func (p *pausedNode) stop(t *testing.T, what string) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
		if p.waitErr != nil {
			t.Fatalf("rrnode after %s: %v, want exit status 0", what, p.waitErr)
		}
	case <-time.After(time.Minute):
		t.Fatalf("rrnode still running a minute after %s", what)
	}
}

// httpAddr finds the address of the HTTP ingress in rrnode's log, from
// its line "msg=listening path=http addr=ADDR".
func httpAddr(log string) (string, bool) {
	for _, line := range strings.Split(log, "\n") {
		if _, rest, ok := strings.Cut(line, "msg=listening path=http addr="); ok {
			addr, _, _ := strings.Cut(rest, " ")
			return addr, true
		}
	}
	return "", false
}

// checkStarting checks what a node still starting answers on its HTTP
// ingress at url: /healthz 200 (alive), /readyz 503 "starting", and an
// invocation 503 with Retry-After and the JSON error body.
func checkStarting(t *testing.T, url string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	get := func(path string) (int, string) {
		resp, err := c.Get(url + path)
		if err != nil {
			t.Fatalf("GET %s while starting: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	if code, body := get("/healthz"); code != http.StatusOK || body != "ok" {
		t.Errorf("/healthz while starting: %d %q, want 200 ok", code, body)
	}
	if code, body := get("/readyz"); code != http.StatusServiceUnavailable || body != "starting" {
		t.Errorf("/readyz while starting: %d %q, want 503 starting", code, body)
	}
	resp, err := c.Post(url+"/v1/functions/producer", "application/octet-stream", strings.NewReader("hello"))
	if err != nil {
		t.Fatalf("invoke while starting: %v", err)
	}
	defer resp.Body.Close()
	var body node.ErrorBody
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusServiceUnavailable ||
		resp.Header.Get("Retry-After") == "" || body.Label != "busy" || !strings.Contains(body.Error, "starting") {
		t.Errorf("invoke while starting: %s, Retry-After %q, body %+v (%v); want 503 with Retry-After, label busy, an error saying starting",
			resp.Status, resp.Header.Get("Retry-After"), body, err)
	}
}

// waitLineOrExit waits until log has a line with every one of words, and
// fails if the process exits first.
func waitLineOrExit(t *testing.T, log *logBuf, exited <-chan struct{}, words ...string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		for _, line := range strings.Split(log.since(0), "\n") {
			if containsAll(line, words) {
				return
			}
		}
		select {
		case <-exited:
			t.Fatalf("rrnode exited before logging %q", words)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q within 2m", words)
		}
	}
}
