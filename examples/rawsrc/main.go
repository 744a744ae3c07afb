//go:build wasip1

package main

import (
	"unsafe"

	"github.com/roadrunner-wasm/roadrunner/internal/bench/payload"
)

// post is the host's HTTP client: the body is read in place, and post
// returns once the response has arrived.
//
//go:wasmimport rawhttp post
func post(ptr, n uint32) int32

var (
	buf []byte // the payload, kept between calls
	sum uint64 // its body's checksum
)

//lint:ignore U1000 called by the host: staticcheck does not see go:wasmexport.
//go:wasmexport raw_send
func rawSend(size uint32, seq uint64) int32 {
	if size < payload.MinSize {
		return 1
	}
	if uint32(len(buf)) != size {
		buf = nil // let the old buffer go before the new one is made
		buf = make([]byte, size)
		sum = payload.Fill(buf)
	}
	payload.Stamp(buf, sum, seq)
	status := post(uint32(uintptr(unsafe.Pointer(unsafe.SliceData(buf)))), size)
	if status == 200 {
		return 0
	}
	return status
}

func main() {}
