package nodeproc

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/internal/netns"
)

// The tests run this test binary as the child, in the role of an rrnode
// whose behaviour each test picks with RR_NODEPROC_HELPER. The real rrnode is
// exercised through this package by tests/e2e_test.go.
func TestMain(m *testing.M) {
	if mode := os.Getenv("RR_NODEPROC_HELPER"); mode != "" {
		os.Exit(helper(mode, os.Args[1:]))
	}
	os.Exit(m.Run())
}

// helper behaves like `rrnode start --config F --http ADDR`.
func helper(mode string, args []string) int {
	var addr string
	for i := range args {
		if args[i] == "--http" && i+1 < len(args) {
			addr = args[i+1]
		}
	}
	if len(args) < 5 || args[0] != "start" || args[1] != "--config" || addr == "" {
		fmt.Fprintf(os.Stderr, "helper: bad arguments %q\n", args)
		return 2
	}
	switch mode {
	case "crash":
		fmt.Fprintln(os.Stderr, "config x.yaml: functions[0].module: no such file")
		return 3
	case "healthy", "stubborn", "unhealthy", "status7":
	default:
		fmt.Fprintf(os.Stderr, "helper: unknown mode %q\n", mode)
		return 2
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	http.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if mode == "unhealthy" {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "ok")
	})
	go func() {
		err := http.ListenAndServe(addr, nil)
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(1)
	}()
	fmt.Fprintf(os.Stderr, "msg=\"node started\" http=%s\n", addr)
	for range sigs {
		fmt.Fprintln(os.Stderr, "helper: SIGTERM")
		switch mode {
		case "stubborn":
			continue
		case "status7":
			return 7
		}
		return 0
	}
	return 0
}

func startHelper(t *testing.T, mode string, opts Options) (*Node, error) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	opts.Binary = exe
	opts.Config = "x.yaml"
	opts.Env = append(opts.Env, "RR_NODEPROC_HELPER="+mode)
	n, err := Start(context.Background(), &opts)
	if n != nil {
		t.Cleanup(func() { n.kill(); <-n.Done() })
	}
	return n, err
}

func TestStartStop(t *testing.T) {
	n, err := startHelper(t, "healthy", Options{Args: []string{"--log-level", "debug"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(n.Addr(), "127.0.0.1:") || n.URL() != "http://"+n.Addr() {
		t.Fatalf("Addr %q, URL %q", n.Addr(), n.URL())
	}
	resp, err := http.Get(n.URL() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !strings.Contains(n.Output(), `msg="node started" http=`+n.Addr()) {
		t.Fatalf("output lacks the start line:\n%s", n.Output())
	}
	status, err := n.Stop()
	if status != 0 || err != nil {
		t.Fatalf("Stop: status %d, %v", status, err)
	}
	if !strings.Contains(n.Output(), "SIGTERM") {
		t.Fatalf("the node did not see SIGTERM:\n%s", n.Output())
	}
	if s2, err2 := n.Stop(); s2 != status || err2 != err {
		t.Fatalf("second Stop: %d, %v", s2, err2)
	}
}

func TestStartSurfacesOutputOfEarlyExit(t *testing.T) {
	_, err := startHelper(t, "crash", Options{})
	if err == nil || !strings.Contains(err.Error(), "functions[0].module: no such file") {
		t.Fatalf("Start: %v; want the child's stderr in the error", err)
	}
}

func TestStartTimeoutKillsUnhealthyNode(t *testing.T) {
	_, err := startHelper(t, "unhealthy", Options{StartTimeout: 500 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "node started") {
		t.Fatalf("Start: %v; want the last health answer and the output", err)
	}
}

func TestStopKillsAfterTimeout(t *testing.T) {
	n, err := startHelper(t, "stubborn", Options{StopTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	status, err := n.Stop()
	if status != -1 || err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("Stop: status %d, %v; want -1 and a kill error", status, err)
	}
}

func TestStopReportsNonZeroStatus(t *testing.T) {
	n, err := startHelper(t, "status7", Options{})
	if err != nil {
		t.Fatal(err)
	}
	status, err := n.Stop()
	if status != 7 || err == nil || !strings.Contains(err.Error(), "status 7") {
		t.Fatalf("Stop: status %d, %v", status, err)
	}
}

func TestKill(t *testing.T) {
	n, err := startHelper(t, "stubborn", Options{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := n.Kill(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Kill took %v", d)
	}
	select {
	case <-n.Done():
	default:
		t.Fatal("Kill returned before the process exited")
	}
	if status, err := n.Stop(); status != -1 || err != nil {
		t.Fatalf("Stop after Kill: status %d, %v; want -1, nil", status, err)
	}
	if err := n.Kill(); err != nil {
		t.Fatalf("second Kill: %v", err)
	}
}

func TestKillAfterExit(t *testing.T) {
	n, err := startHelper(t, "healthy", Options{})
	if err != nil {
		t.Fatal(err)
	}
	n.kill()
	<-n.Done()
	if err := n.Kill(); err == nil || !strings.Contains(err.Error(), "exited before Kill") {
		t.Fatalf("Kill of a dead node: %v", err)
	}
}

// A node in a network namespace is healthy through it, and reachable with
// Client only.
func TestStartInNamespace(t *testing.T) {
	ns := netns.ForTest(t, "nodeproc")
	n, err := startHelper(t, "healthy", Options{NetNS: ns})
	if err != nil {
		t.Fatal(err)
	}
	link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", n.PID()))
	if err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(ns.Path, &st); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("net:[%d]", st.Ino); link != want {
		t.Fatalf("the node runs in %s, want %s", link, want)
	}
	resp, err := n.Client().Get(n.URL() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz through the namespace: %s", resp.Status)
	}
	c, err := n.DialContext(context.Background(), "tcp", n.Addr())
	if err != nil {
		t.Fatalf("DialContext through the namespace: %v", err)
	}
	c.Close()
	if status, err := n.Stop(); status != 0 || err != nil {
		t.Fatalf("Stop: %d, %v", status, err)
	}
}
