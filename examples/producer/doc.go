//go:build wasip1

// Command producer is the first function of the example pipeline
// (examples/pipeline.yaml). Its payload, typically an HTTP request body,
// becomes the body of a pipeline message (examples/pipeline/msg): a header
// carrying the CRC32C of the body, then the body. It sends the message to
// "transform" and returns what that send returned.
//
// The message is built in a buffer the producer keeps and reuses across
// calls, so a steady stream of payloads allocates nothing in the guest once
// the buffer has grown to the largest payload.
//
// Build it as a WASI reactor (make wasm):
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -o producer.wasm ./examples/producer
package main
