// Command demo is what `make demo` runs: it starts rrnode as a child process
// with the example pipeline (examples/pipeline.yaml: producer → transform →
// consumer), pushes payloads of 1 KiB, 1 MiB and 64 MiB through it over the
// HTTP ingress, then does the same with the pipeline split over two rrnode
// processes ("edge" with the producer, "back" with the transform and the
// consumer), once over the unix path and once over the tcp path on
// loopback. It prints what rrnode probe says of this host, and one line per
// hop of each invocation, from the first node's Rr-Trace trailer: the hop, its path, its bytes, the transfer time
// (until the payload sat in the receiver's memory) and the total time (until
// the receiver's handler returned).
//
// A hop counts as verified when its result is "ok" and the consumer's reply
// says verified, with the byte count and CRC32C the demo computed itself for
// the payload it sent (on two nodes the consumer's reply comes back to the
// edge node in a REPLY frame). After each arrangement the demo prints the
// edge node's send mechanism and fallbacks from its /metrics, stops the
// nodes with SIGTERM, requires exit status 0, and at the end prints
//
//	demo: N transfers verified, 0 failed
//
// where N counts hops. It exits with status 1 if any hop failed or the node
// did not stop cleanly.
//
// Usage (from the repository root, after make build wasm):
//
//	go run ./examples/demo -rrnode build/rrnode -config examples/pipeline.yaml
//
// -v copies the node's log to standard error; without it the log is printed
// only if a transfer failed. tests/demo_test.go runs the demo in CI.
package main
