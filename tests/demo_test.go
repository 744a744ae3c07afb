package tests

import (
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/transport/features"
)

// TestDemo runs the demo program (what `make demo` runs) against the
// temporary tree, so that the demo cannot drift from the node.
func TestDemo(t *testing.T) {
	tr := build(t)
	demo := filepath.Join(tr.dir, "bin", "demo")
	args := []string{"build", "-o", demo}
	if raceEnabled() {
		args = append(args, "-race")
	}
	if out, err := exec.Command(goTool(), append(args, module+"/examples/demo")...).CombinedOutput(); err != nil {
		t.Fatalf("go build demo: %v\n%s", err, out)
	}

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
		"demo: 66 transfers verified, 0 failed\n",
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
	if len(hops) != 66 { // 2 rounds x 3 sizes x (3 hops on one node + 2 on each of 4 splits)
		t.Errorf("demo printed %d verified hop lines, want 66:\n%s", len(hops), text)
	}
}
