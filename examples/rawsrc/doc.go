//go:build wasip1

// Command rawsrc is the sending function of rrnode bench's http-raw
// baseline: what a WebAssembly platform gives a function today without
// serialization, service chaining over HTTP as wasi-http or Spin offer it.
// The payload crosses as raw bytes; no JSON, no base64.
//
// It is not a Roadrunner function (it uses neither the guest SDK nor the
// roadrunner imports: that would be the path it is compared against). Its
// host, rrnode bench's sending agent, embeds wazero and gives it one
// import, from module "rawhttp":
//
//	post(ptr, len i32) -> i32
//
// which posts the len bytes at ptr as the body of an HTTP/1.1 request to
// the target the host was configured with (as a Spin component's outbound
// service binding), streamed by the host's HTTP client out of guest memory
// in chunks, and returns the response's status code (200 when the
// receiver verified the payload), or a negative code of the ABI's table
// (abi.Code: bad pointer, transport failure) when there is no response.
//
// It exports
//
//	raw_send(size i32, seq i64) -> i32
//
// which stamps sequence number seq into its payload of size bytes
// (internal/bench/payload; made and filled when the size changes, kept
// between calls), posts it, and returns 0 when the receiver answered 200,
// 1 for a size below payload.MinSize, else post's result.
//
// Build it as a WASI reactor (make wasm):
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -o rawsrc.wasm ./examples/rawsrc
package main
