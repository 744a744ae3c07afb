package tests

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/transport/features"
)

// TestDemo runs the demo program (what `make demo` runs) against the
// temporary tree, so that the demo cannot drift from the node.
func TestDemo(t *testing.T) {
	tr := build(t)
	demo := buildDemo(t, tr)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, demo, "-rrnode", tr.rrnode, "-config", tr.config)
	cmd.Env = append(cmd.Environ(), "XDG_CACHE_HOME="+filepath.Join(tr.dir, "cache"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{
		"demo: node 1 stopped, exit status 0\n",
		"demo: node 2 stopped, exit status 0\n",
		"path unix",
		"path tcp",
		"demo: 90 transfers verified, 0 failed\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q:\n%s", want, text)
		}
	}
	for name, probe := range map[string]func() error{"iouring": features.HaveIOURing, "sockmap": features.HaveSockmap} {
		accel := `demo: edge node metric: rr_accel{accel="` + name + `"} 1`
		if err := probe(); err != nil {
			accel = `demo: edge node metric: rr_accel{accel="` + name + `"} 0`
		}
		if !strings.Contains(text, accel) {
			t.Errorf("demo output lacks %q:\n%s", accel, text)
		}
	}
	hops := regexp.MustCompile(`(?m)^  hop .* verified$`).FindAllString(text, -1)
	if len(hops) != 90 { // 2 rounds x 3 sizes x 3 hops x (one node + 4 splits)
		t.Errorf("demo printed %d verified hop lines, want 90:\n%s", len(hops), text)
	}
}

var (
	demoOnce sync.Once
	demoErr  error
)

// buildDemo builds the demo program into the tree, once, and returns it.
func buildDemo(t *testing.T, tr tree) string {
	t.Helper()
	demo := filepath.Join(tr.dir, "bin", "demo")
	demoOnce.Do(func() {
		args := []string{"build", "-o", demo}
		if raceEnabled() {
			args = append(args, "-race")
		}
		if out, err := exec.Command(goTool(), append(args, module+"/examples/demo")...).CombinedOutput(); err != nil {
			demoErr = fmt.Errorf("go build demo: %w\n%s", err, out)
		}
	})
	if demoErr != nil {
		t.Fatal(demoErr)
	}
	return demo
}

// TestDemoReportsFailure runs the demo against the pipeline with a consumer
// that fails every delivery (node/testdata/relay takes the message for an
// unknown command): the demo must count every hop failed, none verified,
// and exit with status 1.
func TestDemoReportsFailure(t *testing.T) {
	tr := buildAll(t)
	demo := buildDemo(t, tr)
	config, err := os.ReadFile(tr.config)
	if err != nil {
		t.Fatal(err)
	}
	failing := strings.Replace(string(config), "../build/wasm/consumer.wasm", "../build/wasm/relay.wasm", 1)
	if failing == string(config) {
		t.Fatalf("%s names no consumer.wasm:\n%s", tr.config, config)
	}
	file := filepath.Join(filepath.Dir(tr.config), "failing-consumer.yaml")
	if err := os.WriteFile(file, []byte(failing), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, demo, "-rrnode", tr.rrnode, "-config", file)
	cmd.Env = append(cmd.Environ(), "XDG_CACHE_HOME="+filepath.Join(tr.dir, "cache"))
	out, err := cmd.CombinedOutput()
	text := string(out)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("demo with a failing consumer: %v; want exit status 1\n%s", err, text)
	}
	m := regexp.MustCompile(`(?m)^demo: (\d+) transfers verified, (\d+) failed$`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("demo printed no count of transfers:\n%s", text)
	}
	// 2 rounds x 3 sizes x 3 hops x (one node + 4 splits).
	if failed, _ := strconv.Atoi(m[2]); m[1] != "0" || failed < 90 {
		t.Errorf("demo counted %s verified, %s failed; want 0 verified, every one of 90 hops failed:\n%s", m[1], m[2], text)
	}
	if !strings.Contains(text, "demo: "+m[2]+" transfers failed") {
		t.Errorf("demo's error does not give the count of failed transfers:\n%s", text)
	}
}
