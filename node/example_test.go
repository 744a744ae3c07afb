package node_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sync"

	"github.com/roadrunner-wasm/roadrunner/internal/wasmbuild"
	"github.com/roadrunner-wasm/roadrunner/node"
)

// A node with the example pipeline (examples/pipeline.yaml): producer wraps
// the payload in a message and sends it to transform, which scrambles it and
// sends it to consumer, which restores it, checks its CRC32C and replies.
// Both sends travel the memory path.
func ExampleNew() {
	ctx := context.Background()
	// Module paths are relative to the file the configuration is read
	// from: here a directory holding the modules `make wasm` builds.
	cfg, err := node.ParseConfig([]byte(`
node:
  name: example
  max_payload: 1MiB
  cache_dir: off
functions:
  - {name: producer, module: producer.wasm, pool: 1}
  - {name: transform, module: transform.wasm, pool: 1}
  - {name: consumer, module: consumer.wasm, pool: 1}
`), filepath.Join(pipelineModules(), "node.yaml"))
	if err != nil {
		log.Fatal(err)
	}
	n, err := node.New(ctx, cfg, nil) // nil options: the wazero engine, no logs
	if err != nil {
		log.Fatal(err)
	}

	payload := []byte("hello, roadrunner")
	var reply bytes.Buffer
	trace, err := n.Invoke(ctx, "producer", uint64(len(payload)), func(dst []byte) error {
		copy(dst, payload) // dst is producer's memory, not a copy of it
		return nil
	}, &reply)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(reply.String())
	for _, hop := range trace {
		fmt.Printf("%s -> %s over %s: %d bytes, %s\n", hop.From, hop.To, hop.Path, hop.Bytes, hop.Result)
	}

	if err := n.Shutdown(ctx); err != nil {
		log.Fatal(err)
	}
	// Output:
	// {"function":"consumer","bytes":17,"crc32c":"0xd6d3e26f","hops":2,"verified":true}
	// http -> producer over http: 17 bytes, ok
	// producer -> transform over memory: 33 bytes, ok
	// transform -> consumer over memory: 33 bytes, ok
}

var (
	pipelineOnce sync.Once
	pipelineDir  string
)

// pipelineModules builds the example pipeline's guests, as `make wasm` does,
// once per test binary into a directory that TestMain removes, and returns
// the directory. An Example has no *testing.T to fail: a build that fails
// ends the test binary.
func pipelineModules() string {
	pipelineOnce.Do(func() {
		dir := filepath.Join(cacheDir, "pipeline")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			log.Fatal(err)
		}
		for _, g := range []string{"producer", "transform", "consumer"} {
			if err := wasmbuild.Build("github.com/roadrunner-wasm/roadrunner/examples/"+g, filepath.Join(dir, g+".wasm")); err != nil {
				log.Fatal(err)
			}
		}
		pipelineDir = dir
	})
	return pipelineDir
}
