//go:build wasip1

// Command jsonsink is the receiving function of rrnode bench's http-json
// baseline. Its payload is an HTTP request body {"data":"<base64>"} (see
// jsonsrc); it decodes it with encoding/json, verifies the decoded payload
// (internal/bench/payload: header, length, checksum of the body) and replies
//
//	{"ok":true,"seq":100,"verify_ns":123456}
//
// or {"ok":false,"error":"…"} (the handler fails then too). The decoding is
// part of the transfer; the verification, timed on the guest's monotonic
// clock, is subtracted by rrnode bench, as it is for every path.
//
// Build it as a WASI reactor (make wasm):
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -o jsonsink.wasm ./examples/jsonsink
package main
