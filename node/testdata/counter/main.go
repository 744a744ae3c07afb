// Command counter is a test guest that implements the ABI without the guest
// SDK, so that it can count the host's calls of rr_alloc and rr_handle. On
// the payload "count" it replies "allocs=A handles=H" (that call included);
// it ignores any other payload.
package main

import (
	"strconv"
	"unsafe"
)

//go:wasmimport roadrunner reply
func reply(ptr, n uint32) int32

var (
	buf             []byte
	allocs, handles int
)

//go:wasmexport rr_alloc
func rrAlloc(n uint32) uint32 {
	allocs++
	if uint32(cap(buf)) < n {
		buf = make([]byte, n)
	}
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(buf))))
}

//go:wasmexport rr_handle
func rrHandle(ptr, n uint32) int32 {
	handles++
	if n > uint32(cap(buf)) {
		return 2
	}
	if string(buf[:n]) == "count" {
		out := []byte("allocs=" + strconv.Itoa(allocs) + " handles=" + strconv.Itoa(handles))
		reply(uint32(uintptr(unsafe.Pointer(unsafe.SliceData(out)))), uint32(len(out)))
	}
	return 0
}

func main() {}
