//go:build wasip1

// Command rawsink is the receiving function of rrnode bench's http-raw
// baseline (see examples/rawsrc): it reads an HTTP request's body of raw
// bytes through a stream-style host call, as a wasi-http handler reads its
// incoming-body's input-stream, and verifies it as benchsink does.
//
// Its host, rrnode bench's receiving agent, embeds wazero, serves HTTP/1.1
// and, for each request, calls
//
//	raw_handle(content_length i32) -> i32
//
// The function reads the body with the imports of module "rawhttp":
//
//	body_read(ptr, len i32) -> i32   up to len bytes of the body into ptr;
//	                                 the count, 0 at its end, or a negative
//	                                 abi.Code (bad pointer, transport failure)
//	respond(ptr, len i32) -> i32     the response's body (once per request)
//
// It reads into one buffer it keeps and reuses (grown when a larger body
// arrives), until body_read returns 0, then verifies the payload
// (internal/bench/payload: header, length, the body's checksum), checks
// that its sequence number is above the last one, zeroes the buffer, and
// responds with its verdict, as jsonsink does:
//
//	{"ok":true,"seq":100,"verify_ns":81234}
//
// verify_ns is the verification's time on the guest's monotonic clock
// (rrnode bench subtracts it from the transfer). raw_handle returns 0 when
// the payload verified, 1 when it did not, or respond's code if that
// failed.
//
// Build it as a WASI reactor (make wasm):
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -o rawsink.wasm ./examples/rawsink
package main
