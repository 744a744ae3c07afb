package node_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/roadrunner-wasm/roadrunner/internal/nodeproc"
	"github.com/roadrunner-wasm/roadrunner/internal/testdns"
	"github.com/roadrunner-wasm/roadrunner/internal/wasmbuild"
	"github.com/roadrunner-wasm/roadrunner/node"
	"github.com/roadrunner-wasm/roadrunner/runtime"
	"github.com/roadrunner-wasm/roadrunner/runtime/runtimetest"
	"github.com/roadrunner-wasm/roadrunner/transport"
)

var benchSizes = []struct {
	name string
	n    int
}{{"1KiB", 1 << 10}, {"1MiB", 1 << 20}, {"64MiB", 64 << 20}}

// BenchmarkMemoryPath measures the memory path guest to guest, transfer
// only, side by side with the physical limit of one copy:
//
//   - send: the conformance guest "src" calls send(sink, buf) b.N times in
//     one invocation, from a buffer it reuses, to "sink", which takes the
//     payload into its reused receive buffer and returns at once. One op is
//     one send: host call, bounds checks, routing, rr_alloc, the copy,
//     rr_handle. Module start and guest compute are outside the loop.
//     Measured with interruptible functions (the default) and without.
//   - copy-reused: a Go copy of the same size into an already-touched buffer.
//   - copy-fresh: the same copy into freshly mmapped pages, as a receiver
//     that grew its memory for each payload would see.
//
// make bench runs it; compare the MB/s columns of one run.
func BenchmarkMemoryPath(b *testing.B) {
	module := wasmbuild.ForTest(b, runtimetest.GuestPackage)
	for _, size := range benchSizes {
		b.Run(size.name, func(b *testing.B) {
			for _, interruptible := range []bool{true, false} {
				name := "send"
				if !interruptible {
					name = "send-uninterruptible"
				}
				b.Run(name, func(b *testing.B) { benchSend(b, module, size.n, interruptible) })
			}
			b.Run("copy-reused", func(b *testing.B) {
				src, dst := touched(size.n), touched(size.n)
				b.SetBytes(int64(size.n))
				for b.Loop() {
					copy(dst, src)
				}
			})
			b.Run("copy-fresh", func(b *testing.B) {
				src := touched(size.n)
				b.SetBytes(int64(size.n))
				for b.Loop() {
					dst, err := unix.Mmap(-1, 0, size.n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
					if err != nil {
						b.Fatal(err)
					}
					copy(dst, src)
					if err := unix.Munmap(dst); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

func touched(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func benchSend(b *testing.B, module string, size int, interruptible bool) {
	benchSendOn(b, nil, module, size, interruptible, false)
}

// benchNode starts a node on eng (nil: the node's default engine) from the
// YAML config; it shuts down at cleanup.
func benchNode(b *testing.B, eng runtime.Engine, name, config string) *node.Node {
	path := filepath.Join(b.TempDir(), name+".yaml")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		b.Fatal(err)
	}
	cfg, err := node.LoadConfig(path)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	n, err := node.New(ctx, cfg, &node.Options{Engine: eng, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { n.Shutdown(ctx) })
	return n
}

// benchSendOn is benchSend on eng (nil: the node's default engine), which
// the caller closes. With unix, "sink" runs on a second node of the same
// process, reached over the unix path: the same guests and loop, the
// transfer through a socket instead of one copy.
func benchSendOn(b *testing.B, eng runtime.Engine, module string, size int, interruptible, unixPath bool) {
	const head = "node:\n  max_payload: 128MiB\n  invocation_timeout: 1h\n  cache_dir: %s\n"
	src := fmt.Sprintf("  - {name: src, module: %s, pool: 1, interruptible: %v, recycle_memory: 4GiB}\n", module, interruptible)
	sink := fmt.Sprintf("  - {name: sink, module: %s, pool: 1, interruptible: %v, recycle_memory: 4GiB}\n", module, interruptible)
	var n *node.Node
	if !unixPath {
		n = benchNode(b, eng, "node", fmt.Sprintf(head, cacheDir)+"functions:\n"+src+sink)
	} else {
		sock := filepath.Join(b.TempDir(), "sink.sock")
		back := benchNode(b, eng, "back", fmt.Sprintf(head, cacheDir)+"  listen: {unix: "+sock+"}\nfunctions:\n"+sink)
		lns, err := back.Listen(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		go back.ServeTransport(transport.PathUnix, lns[transport.PathUnix])
		n = benchNode(b, eng, "front", fmt.Sprintf(head, cacheDir)+"functions:\n"+src+
			"peers:\n  - {name: back, address: unix://"+sock+", functions: [sink]}\n")
	}
	sendLoop(b, n, size)
}

// sendLoop has n's "src" send size bytes to "sink" b.N times in one
// invocation (the conformance guest's control payload L: count, size,
// name), after three sends that grow and touch both guests' buffers.
func sendLoop(b *testing.B, n *node.Node, size int) {
	ctx := context.Background()
	cmd := []byte{0, 'R', 'R', 'C', 'L', 0, 0, 0, 0, 0, 0, 0, 0, 4, 's', 'i', 'n', 'k'}
	binary.LittleEndian.PutUint32(cmd[9:], uint32(size))
	var reply codeWriter
	run := func(count int) {
		binary.LittleEndian.PutUint32(cmd[5:], uint32(count))
		if _, err := n.Invoke(ctx, "src", uint64(len(cmd)), func(dst []byte) error { copy(dst, cmd); return nil }, &reply); err != nil {
			b.Fatal(err)
		}
		if reply.code != 0 {
			b.Fatalf("a send failed with code %d", int32(reply.code))
		}
	}
	run(3)
	b.SetBytes(int64(size))
	b.ResetTimer()
	run(b.N)
}

// codeWriter keeps the conformance guest's 4-byte reply.
type codeWriter struct{ code uint32 }

func (w *codeWriter) Write(p []byte) (int, error) {
	if len(p) != 4 {
		return 0, io.ErrShortWrite
	}
	w.code = binary.LittleEndian.Uint32(p)
	return 4, nil
}

// BenchmarkRoute measures what routing costs a remote send, side by side:
// 1 KiB sends (where per-send costs show) from "src" to "sink" on other
// nodes of this process over the unix path, with sink
//
//   - static: on one peer listed in the config (one replica: no choice);
//   - replicas: on two listed peers (power of two choices between them);
//   - dns: on one peer found through a real DNS server (testdns) and
//     reached over its unix socket once its directory said where.
//
// The difference between the cases is routing's cost per send.
func BenchmarkRoute(b *testing.B) {
	module := wasmbuild.ForTest(b, runtimetest.GuestPackage)
	for _, mode := range []string{"static", "replicas", "dns"} {
		b.Run(mode, func(b *testing.B) { benchRoute(b, module, mode, 1<<10) })
	}
}

func benchRoute(b *testing.B, module, mode string, size int) {
	const head = "node:\n  name: %s\n  max_payload: 128MiB\n  invocation_timeout: 1h\n  cache_dir: %s\n"
	sink := fmt.Sprintf("  - {name: sink, module: %s, pool: 1, recycle_memory: 4GiB}\n", module)
	dir := b.TempDir()
	back := func(name, listen string) {
		n := benchNode(b, nil, name, fmt.Sprintf(head, name, cacheDir)+"  listen: {"+listen+"}\nfunctions:\n"+sink)
		lns, err := n.Listen(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		for path, ln := range lns {
			go n.ServeTransport(path, ln)
		}
	}
	src := fmt.Sprintf(head, "front", cacheDir) + fmt.Sprintf("functions:\n  - {name: src, module: %s, pool: 1, recycle_memory: 4GiB}\n", module)
	sock := func(name string) string { return filepath.Join(dir, name+".sock") }
	switch mode {
	case "static":
		back("b1", "unix: "+sock("b1"))
		src += "peers:\n  - {name: b1, address: unix://" + sock("b1") + ", functions: [sink]}\n"
	case "replicas":
		back("b1", "unix: "+sock("b1"))
		back("b2", "unix: "+sock("b2"))
		src += "peers:\n  - {name: b1, address: unix://" + sock("b1") + ", functions: [sink]}\n" +
			"  - {name: b2, address: unix://" + sock("b2") + ", functions: [sink]}\n"
	case "dns":
		port := freePort(b)
		back("b1", fmt.Sprintf("unix: %s, tcp: '127.0.0.1:%d'", sock("b1"), port))
		dns := testdns.Start(b)
		dns.Set("rr.bench", netip.MustParseAddr("127.0.0.1"))
		src += fmt.Sprintf("cluster: {dns: rr.bench, port: %d, resolver: '%s', refresh: 1s}\n", port, dns.Addr())
	}
	n := benchNode(b, nil, "front", src)
	if mode == "dns" {
		for {
			if v := n.Cluster(); len(v.Peers) == 1 && v.Peers[0].State == node.StateUp && v.Peers[0].Path == "unix" {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	sendLoop(b, n, size)
}

// freePort returns a tcp port free a moment ago on every one of hosts
// (loopback addresses; 127.0.0.1 if none). Tests that give their nodes
// 127.0.0.2 and up share no port with the rest, which listen on
// 127.0.0.1.
func freePort(tb testing.TB, hosts ...string) int {
	tb.Helper()
	if len(hosts) == 0 {
		hosts = []string{"127.0.0.1"}
	}
	port, err := nodeproc.FreePort(hosts...)
	if err != nil {
		tb.Fatal(err)
	}
	return port
}
