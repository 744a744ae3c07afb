//go:build wasip1

// Command consumer is the last function of the example pipeline
// (examples/pipeline.yaml). It decodes the message it receives
// (examples/pipeline/msg), undoes the transform in place and compares the
// CRC32C of the restored body with the one the producer wrote, then replies
// to the invocation with a JSON object (msg.Report):
//
//	{"function":"consumer","bytes":1024,"crc32c":"0x1c2a3b4d","hops":2,"verified":true}
//
// A message that is truncated, corrupt, not transformed, or whose body does
// not match its checksum gets "verified":false and a "reason". The handler
// still returns nil then, so that the reply reaches the HTTP client: the
// answer is the verdict, not an error.
//
// Build it as a WASI reactor (make wasm):
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -o consumer.wasm ./examples/consumer
package main
