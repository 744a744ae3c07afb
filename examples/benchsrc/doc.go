//go:build wasip1

// Command benchsrc is the sending function of rrnode bench's Roadrunner
// paths (memory, unix, tcp and their accelerated variants). An invocation
// carries a JSON command
//
//	{"to":"sink0","size":1048576,"count":16,"seq":100}
//
// and the function sends count payloads of size bytes (internal/bench/payload:
// a header with a checksum, then a pseudo-random body) to the function named
// to, with sequence numbers seq, seq+1, …, from one buffer it keeps and
// reuses. It times each send on the guest's monotonic clock, from just
// before the send import to just after it returned (the receiver has the
// payload in its memory and has returned), and replies with the durations:
//
//	{"send_ns":[812345, 799001, …]}
//
// or, if a send failed, {"send_ns":[…the ones before…],"error":"…"}. The
// body is generated and its checksum computed once per size, outside the timed
// sends; each send only stamps its sequence number into the header.
//
// Build it as a WASI reactor (make wasm):
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -o benchsrc.wasm ./examples/benchsrc
package main
