//go:build wasip1

// Command jsonsrc is the sending function of rrnode bench's http-json
// baseline: the serialization path the Roadrunner paper measures WasmEdge
// functions on. An invocation carries a JSON command
//
//	{"size":1048576,"seq":100}
//
// and the function stamps sequence number seq into its payload
// (internal/bench/payload, kept between invocations), encodes the payload
// with encoding/json as
//
//	{"data":"<base64 of the payload>"}
//
// and replies with that JSON. The host that invokes it (rrnode bench's agent)
// posts the reply, as it is written from the guest's memory, to the
// receiving function (jsonsink) over HTTP/1.1: the guest encodes, the host
// only carries bytes, as a WasmEdge function's socket would.
//
// Build it as a WASI reactor (make wasm):
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -o jsonsrc.wasm ./examples/jsonsrc
package main
