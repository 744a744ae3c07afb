//go:build wasip1

// Command transform is the middle function of the example pipeline
// (examples/pipeline.yaml). It decodes the message it receives and checks its
// header and the CRC32C of its body (examples/pipeline/msg); a message that
// fails is an error, which the sender (and the HTTP client) sees as
// receiver_failed. A good message is transformed in place — the body
// scrambled with msg.Scramble, the transformed flag set, the hop count
// incremented — and the same buffer, the SDK's receive buffer, is sent on to
// "consumer" without a copy.
//
// Build it as a WASI reactor (make wasm):
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -o transform.wasm ./examples/transform
package main
