package node_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/internal/wasmbuild"
	"github.com/roadrunner-wasm/roadrunner/node"
	"github.com/roadrunner-wasm/roadrunner/runtime/runtimetest"
	"github.com/roadrunner-wasm/roadrunner/transport"
)

// BenchmarkTracing measures what OpenTelemetry tracing costs a hop: one op
// is one invocation of the conformance guest "src" (the ingress hop) that
// sends once to "sink" (the second hop), on the memory path at 1 KiB and
// over the unix path (a second node of this process) at 1 MiB, with
// tracing
//
//   - off: no node.tracing endpoint;
//   - on-100pct: node.tracing exporting over OTLP/HTTP (protobuf, the SDK's
//     batch span processor, as in production) to a receiver on loopback
//     that reads each request whole and answers 200 without decoding it,
//     every trace sampled (sample_ratio 1);
//   - on-1pct: the same, sample_ratio 0.01: most invocations make unsampled
//     (non-recording) spans, whose trace context still crosses to the peer.
//
// The cost per hop is (on − off) / 2 (two hops an op), in one run. Under
// load the batch processor drops what its queue cannot hold rather than
// block a hop; otlp-B/op is what the receiver got by the time the node of
// src had shut down (and exported what its batch held).
func BenchmarkTracing(b *testing.B) {
	module := wasmbuild.ForTest(b, runtimetest.GuestPackage)
	for _, c := range []struct {
		name string
		size int
		unix bool
	}{{"memory/1KiB", 1 << 10, false}, {"unix/1MiB", 1 << 20, true}} {
		b.Run(c.name, func(b *testing.B) {
			for _, mode := range []struct {
				name  string
				ratio string // "" = tracing off
			}{{"off", ""}, {"on-100pct", "1"}, {"on-1pct", "0.01"}} {
				b.Run(mode.name, func(b *testing.B) {
					tracing := ""
					var recv *otlpSink
					if mode.ratio != "" {
						recv = startOTLPSink(b)
						tracing = "  tracing: {otlp_endpoint: " + recv.endpoint + ", sample_ratio: " + mode.ratio + "}\n"
					}
					n := benchTracedNodes(b, module, tracing, c.unix)
					invokeLoop(b, n, c.size)
					if recv != nil {
						// Its Shutdown exports what its batch holds.
						if err := n.Shutdown(context.Background()); err != nil {
							b.Fatal(err)
						}
						b.ReportMetric(float64(recv.bytes.Load())/float64(b.N), "otlp-B/op")
					}
				})
			}
		})
	}
}

// benchTracedNodes starts the node of src (and, with unixPath, the node of
// sink it reaches over the unix path), each with the tracing section.
func benchTracedNodes(b *testing.B, module, tracing string, unixPath bool) *node.Node {
	head := fmt.Sprintf("node:\n  max_payload: 128MiB\n  invocation_timeout: 1h\n  cache_dir: %s\n", cacheDir) + tracing
	src := fmt.Sprintf("  - {name: src, module: %s, pool: 1, recycle_memory: 4GiB}\n", module)
	sink := fmt.Sprintf("  - {name: sink, module: %s, pool: 1, recycle_memory: 4GiB}\n", module)
	if !unixPath {
		return benchNode(b, nil, "node", head+"functions:\n"+src+sink)
	}
	sock := filepath.Join(b.TempDir(), "sink.sock")
	back := benchNode(b, nil, "back", head+"  listen: {unix: "+sock+"}\nfunctions:\n"+sink)
	lns, err := back.Listen(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	go back.ServeTransport(transport.PathUnix, lns[transport.PathUnix])
	return benchNode(b, nil, "front", head+"functions:\n"+src+"peers:\n  - {name: back, address: unix://"+sock+", functions: [sink]}\n")
}

// invokeLoop invokes n's "src" b.N times, each sending size bytes to
// "sink" once (the conformance guest's control payload L: count 1).
func invokeLoop(b *testing.B, n *node.Node, size int) {
	ctx := context.Background()
	cmd := []byte{0, 'R', 'R', 'C', 'L', 1, 0, 0, 0, 0, 0, 0, 0, 4, 's', 'i', 'n', 'k'}
	binary.LittleEndian.PutUint32(cmd[9:], uint32(size))
	fill := func(dst []byte) error { copy(dst, cmd); return nil }
	var reply codeWriter
	once := func() {
		if _, err := n.Invoke(ctx, "src", uint64(len(cmd)), fill, &reply); err != nil {
			b.Fatal(err)
		}
		if reply.code != 0 {
			b.Fatalf("the send failed with code %d", int32(reply.code))
		}
	}
	for range 3 {
		once()
	}
	b.SetBytes(int64(size))
	for b.Loop() {
		once()
	}
}

// otlpSink is an OTLP/HTTP endpoint that reads what it is sent and
// answers 200 with an empty ExportTraceServiceResponse, without decoding:
// the exporter's side at full cost, the collector's at almost none.
type otlpSink struct {
	endpoint string
	bytes    atomic.Int64
}

func startOTLPSink(b *testing.B) *otlpSink {
	s := &otlpSink{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		s.bytes.Add(n)
		w.Header().Set("Content-Type", "application/x-protobuf")
	})}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	s.endpoint = "http://" + ln.Addr().String()
	return s
}
