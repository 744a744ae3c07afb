package wasmbuild

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Command returns the go build command that compiles the guest package pkg
// (an import path or a ./relative directory) into out.
func Command(pkg, out string) *exec.Cmd {
	cmd := exec.Command(goTool(), "build", "-buildmode=c-shared", "-trimpath", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	return cmd
}

// goTool is the go command: $GOROOT/bin/go if GOROOT is set, else the one
// on PATH (exec reports clearly if there is none).
func goTool() string {
	if root := os.Getenv("GOROOT"); root != "" {
		if p := filepath.Join(root, "bin", "go"); fileExists(p) {
			return p
		}
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Build compiles pkg into out.
func Build(pkg, out string) error {
	cmd := Command(pkg, out)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build guest %s: %w: %s", pkg, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

var (
	mu    sync.Mutex
	dir   string
	built = map[string]string{}
)

// ForTest builds pkg once per test binary and returns the module's path.
// pkg is an import path, so the result does not depend on the test's
// working directory. The file lives in a temporary directory that is removed
// when the process exits normally (see Cleanup).
func ForTest(tb testing.TB, pkg string) string {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	if p, ok := built[pkg]; ok {
		return p
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "rr-wasm-")
		if err != nil {
			tb.Fatalf("wasmbuild: %v", err)
		}
		dir = d
	}
	out := filepath.Join(dir, strings.ReplaceAll(pkg, "/", "_")+".wasm")
	if err := Build(pkg, out); err != nil {
		tb.Fatalf("wasmbuild: %v", err)
	}
	built[pkg] = out
	return out
}

// ModuleForTest is ForTest, returning the module's bytes.
func ModuleForTest(tb testing.TB, pkg string) []byte {
	tb.Helper()
	b, err := os.ReadFile(ForTest(tb, pkg))
	if err != nil {
		tb.Fatalf("wasmbuild: %v", err)
	}
	return b
}

// Cleanup removes the modules ForTest built. Call it from TestMain after
// m.Run.
func Cleanup() {
	mu.Lock()
	defer mu.Unlock()
	if dir != "" {
		os.RemoveAll(dir)
		dir = ""
		built = map[string]string{}
	}
}
