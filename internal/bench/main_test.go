package bench

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/internal/wasmbuild"
)

func TestMain(m *testing.M) {
	if os.Getenv(touchHelperEnv) == "1" {
		touchHelper()
		os.Exit(0)
	}
	code := m.Run()
	wasmbuild.Cleanup()
	if rrnodeDir != "" {
		os.RemoveAll(rrnodeDir)
	}
	os.Exit(code)
}

var (
	rrnodeOnce sync.Once
	rrnodeDir  string
	rrnodeBin  string
	rrnodeErr  error
)

// rrnodeForTest builds cmd/rrnode once per test binary, for the tests that
// run paths as rrnode bench does: real nodes and agents in processes of
// their own.
func rrnodeForTest(t *testing.T) string {
	t.Helper()
	rrnodeOnce.Do(func() {
		if rrnodeDir, rrnodeErr = os.MkdirTemp("", "rr-bench-rrnode-"); rrnodeErr != nil {
			return
		}
		rrnodeBin = filepath.Join(rrnodeDir, "rrnode")
		cmd := exec.Command("go", "build", "-o", rrnodeBin, "github.com/roadrunner-wasm/roadrunner/cmd/rrnode")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			rrnodeErr = fmt.Errorf("go build rrnode: %w: %s", err, strings.TrimSpace(out.String()))
		}
	})
	if rrnodeErr != nil {
		t.Fatal(rrnodeErr)
	}
	return rrnodeBin
}

// wasmDirForTest returns a directory holding <module>.wasm for each of
// modules, built from examples/.
func wasmDirForTest(t *testing.T, modules ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, m := range modules {
		if err := os.Symlink(wasmbuild.ForTest(t, examples+m), filepath.Join(dir, m+".wasm")); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
