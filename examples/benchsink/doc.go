//go:build wasip1

// Command benchsink is the receiving function of rrnode bench's Roadrunner
// paths. Each benchmark payload (internal/bench/payload) it receives is
// verified in place: header, length, and the checksum of the body; then the
// receive buffer is zeroed, so that the next payload must arrive whole to
// pass. The handler fails (the sender's send returns receiver_failed) if the
// payload does not verify or its sequence number is not above the last one.
// It times the verification on the guest's monotonic clock and keeps one
// record per payload.
//
// The sender's send returns only after this handler has, so the sender's
// timing includes the verification; rrnode bench subtracts it. An
// invocation with the 4-byte payload "RRBR" replies with the records kept
// since the last such report, and forgets them:
//
//	{"seq":[100,101,…],"verify_ns":[…],"failed":0,"error":""}
//
// Build it as a WASI reactor (make wasm):
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -o benchsink.wasm ./examples/benchsink
package main
