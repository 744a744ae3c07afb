package tests

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A bad config makes `rrnode start` exit non-zero with a message naming the
// file and the field.
func TestStartRejectsBadConfig(t *testing.T) {
	tr := build(t)
	wasm := func(name string) string { return filepath.Join(tr.dir, "build", "wasm", name+".wasm") }
	for _, c := range []struct {
		name   string
		config string
		want   []string // substrings of the output
	}{
		{
			name: "missing module",
			config: `functions:
  - name: producer
    module: ` + filepath.Join(tr.dir, "nosuch.wasm") + `
`,
			want: []string{"functions[0].module", "nosuch.wasm"},
		},
		{
			name: "duplicate name",
			config: `functions:
  - name: producer
    module: ` + wasm("producer") + `
  - name: producer
    module: ` + wasm("transform") + `
`,
			want: []string{"functions[1].name", "duplicate", `"producer"`},
		},
		{
			name: "payload limit of 4GiB",
			config: `node:
  max_payload: 4GiB
functions:
  - name: producer
    module: ` + wasm("producer") + `
`,
			want: []string{"node.max_payload"},
		},
		{
			name: "unparsable function limit",
			config: `functions:
  - name: producer
    module: ` + wasm("producer") + `
    max_payload: 12 parsecs
`,
			want: []string{"functions[0].max_payload", "12 parsecs"},
		},
		{
			name: "pool too large",
			config: `functions:
  - name: producer
    module: ` + wasm("producer") + `
    pool: 1025
`,
			want: []string{"functions[0].pool"},
		},
		{
			name: "unknown field",
			config: `functions:
  - name: producer
    module: ` + wasm("producer") + `
    poool: 2
`,
			want: []string{"poool"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "bad.yaml")
			if err := os.WriteFile(file, []byte(c.config), 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, tr.rrnode, "start", "--config", file, "--http", "127.0.0.1:0")
			out, err := cmd.CombinedOutput()
			if ctx.Err() != nil {
				t.Fatalf("rrnode start kept running with a bad config:\n%s", out)
			}
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() <= 0 {
				t.Fatalf("rrnode start: %v, want a non-zero exit status\n%s", err, out)
			}
			for _, w := range append(c.want, "config "+file) {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}
