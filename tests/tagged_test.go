//go:build wasmtime || wasmedge

package tests

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// taggedBuild is rrnode built with one more engine's build tag.
type taggedBuild struct {
	once sync.Once
	bin  string
	err  error
}

var taggedBuilds sync.Map // tag -> *taggedBuild

// buildTagged builds rrnode with -tags tag beside the default one of build,
// once per test binary. A cgo engine that links an installed library
// (wasmedge) finds it through CGO_CFLAGS and CGO_LDFLAGS of the test's
// environment (make test sets them).
func buildTagged(t *testing.T, tr tree, tag string) string {
	t.Helper()
	v, _ := taggedBuilds.LoadOrStore(tag, &taggedBuild{})
	b := v.(*taggedBuild)
	b.once.Do(func() {
		b.bin = filepath.Join(tr.dir, "bin", "rrnode-"+tag)
		args := []string{"build", "-tags", tag, "-o", b.bin}
		if raceEnabled() {
			args = append(args, "-race")
		}
		if out, err := exec.Command(goTool(), append(args, module+"/cmd/rrnode")...).CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build -tags %s rrnode: %w\n%s", tag, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.bin
}
