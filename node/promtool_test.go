package node_test

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/internal/livenodes"
	"github.com/roadrunner-wasm/roadrunner/internal/privileged"
)

// TestPromtool runs promtool check metrics, Prometheus' own linter, on the
// /metrics of real nodes after traffic on the memory, unix and tcp paths:
// every series a node exports is there, its names, types, units and help
// checked. promtool comes from Debian's prometheus package (.ci/run
// installs it); without it the test skips, and fails under
// RR_REQUIRE_PRIVILEGED=1.
func TestPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		privileged.Skip(t, "promtool not found (Debian: apt-get install prometheus)")
	}
	ns := livenodes.Start(t)
	for _, n := range ns.All() {
		text := livenodes.Scrape(t, n)
		for _, want := range []string{"rr_build_info{", "rr_transfer_duration_seconds_bucket{", "rr_function_instances{"} {
			if !strings.Contains(text, want) {
				t.Fatalf("%s: no %s… in /metrics:\n%s", n.Name(), want, text)
			}
		}
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(text)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Errorf("%s: promtool check metrics: %v:\n%s", n.Name(), err, out.String())
		}
	}
}
