//go:build wasmtime || wasmedge

package tests

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/internal/nodeproc"
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

// checkEnginesListed checks that rrnode version and rrnode probe of bin
// name wazero and the tagged engine ("wasmtime v35.") with their versions.
func checkEnginesListed(t *testing.T, bin, engine string) {
	t.Helper()
	for _, args := range [][]string{{"version"}, {"probe"}} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("rrnode %s: %v\n%s", args[0], err, out)
		}
		if !strings.Contains(string(out), "engines: wazero v") || !strings.Contains(string(out), ", "+engine) {
			t.Errorf("rrnode %s does not list wazero and %s with versions:\n%s", args[0], engine, out)
		}
	}
	if rows := probeFeatures(t, bin, nil); !rows["memory"].Available {
		t.Errorf("probe --json of %s: memory %+v", bin, rows["memory"])
	}
}

// checkPipelineSizes pushes the example pipeline's payloads through n,
// one subtest per size.
func checkPipelineSizes(t *testing.T, n *nodeproc.Node) {
	for _, size := range []int{0, 1, 1 << 10, 1 << 20, 64 << 20} {
		t.Run(fmt.Sprintf("%dB", size), func(t *testing.T) {
			payload := pattern(size)
			checkPipeline(t, post(t, n, "producer", payload), payload)
		})
	}
}

// runRemotePipelineOn splits the example pipeline over two rrnode
// processes of bin on engine, joined by the unix path and then by the tcp
// path on loopback: the payload leaves one guest's memory and is read
// straight into another's, and the consumer's report comes back in a REPLY
// frame.
func runRemotePipelineOn(t *testing.T, tr tree, bin, engine string) {
	o := launchOpts{binary: bin, args: []string{"--engine", engine}}
	for _, path := range []string{"unix", "tcp"} {
		t.Run(path, func(t *testing.T) {
			dir := shortDir(t)
			bc := nodeConfig{name: "b", functions: []fn{transformFn, consumerFn}}
			if path == "unix" {
				bc.listenUnix = filepath.Join(dir, "b.sock")
			} else {
				bc.listenTCP = "127.0.0.1:0"
			}
			b := launch(t, tr, "b", bc.write(t, tr, dir), o)
			a := launch(t, tr, "a", nodeConfig{
				name:      "a",
				functions: []fn{producerFn},
				peers:     []peer{{name: "b", address: path + "://" + b.listenAddr(t, path), functions: []string{"transform", "consumer"}}},
			}.write(t, tr, dir), o)
			if !strings.Contains(a.log.since(0), engine) {
				t.Fatalf("node a does not run on %s:\n%s", engine, a.log.tail(4096))
			}
			runPipeline(t, a, []int{0, 1, 1 << 20, 64 << 20}, path, "memory")
		})
	}
}
