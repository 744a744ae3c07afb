// Command conformance is the guest of the runtime conformance suite: a WASI
// reactor written against the raw ABI (no SDK), so that it can misbehave on
// purpose. Every payload is echoed back through reply, except control
// payloads, which start with the 4 bytes "\x00RRC" and an opcode:
//
//	A mode [ptr]  rr_alloc from now on: 'n' normal, 'z' returns 0, 'o' returns
//	              an offset past memory, 'w' returns an offset whose range
//	              wraps, 'p' returns ptr (a u32 after the mode)
//	B ptr len w   call an import with a raw range (w: 0 send name, 1 send
//	              data, 2 reply); reply the 4-byte code
//	C             reply the counts of rr_alloc and rr_handle calls (2 x u32)
//	F             rr_handle returns 7
//	G mib         grow memory by allocating and touching mib MiB, kept live
//	L n size name send n payloads of size bytes to name; reply the first
//	              failing code (u32) or 0. A payload of 5 bytes or more
//	              is an N control, so that this guest can be the receiver
//	N             nothing: return 0 at once
//	S name data   send data to name; reply the 4-byte code
//	T             panic (a trap: the Go runtime exits the instance)
//	W             spin forever (until the host interrupts it)
//
// Integers are little-endian u32; names are prefixed by a u8 length.
package main

import (
	"encoding/binary"
	"unsafe"
)

//go:wasmimport roadrunner send
func send(namePtr, nameLen, dataPtr, dataLen uint32) int32

//go:wasmimport roadrunner reply
func reply(dataPtr, dataLen uint32) int32

var (
	buf       []byte
	allocMode byte = 'n'
	allocPtr  uint32
	allocs    uint32
	handles   uint32
	hold      [][]byte
	scratch   [8]byte
	loopBuf   []byte
	spinSink  uint64
)

func addr(b []byte) uint32 { return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }

//go:wasmexport rr_alloc
func rrAlloc(n uint32) uint32 {
	allocs++
	switch allocMode {
	case 'z':
		return 0
	case 'o':
		return 0xFFFF0000
	case 'w':
		return 0xFFFFFFF0
	case 'p':
		return allocPtr
	}
	if uint32(cap(buf)) < n {
		buf = make([]byte, n)
	}
	return addr(buf)
}

func replyU32(v uint32) {
	binary.LittleEndian.PutUint32(scratch[:4], v)
	reply(addr(scratch[:4]), 4)
}

//go:wasmexport rr_handle
func rrHandle(ptr, n uint32) int32 {
	handles++
	var p []byte
	if n > 0 {
		if ptr != addr(buf) || n > uint32(cap(buf)) {
			return 99
		}
		p = buf[:n]
	}
	if len(p) < 5 || string(p[:4]) != "\x00RRC" {
		return reply(addr(p), uint32(len(p)))
	}
	arg := p[5:]
	switch p[4] {
	case 'A':
		allocMode = arg[0]
		if allocMode == 'p' {
			allocPtr = binary.LittleEndian.Uint32(arg[1:])
		}
	case 'B':
		ptr, ln := binary.LittleEndian.Uint32(arg), binary.LittleEndian.Uint32(arg[4:])
		var code int32
		switch arg[8] {
		case 0:
			code = send(ptr, ln, addr(scratch[:]), 1)
		case 1:
			name := "peer"
			code = send(uint32(uintptr(unsafe.Pointer(unsafe.StringData(name)))), uint32(len(name)), ptr, ln)
		case 2:
			code = reply(ptr, ln)
		}
		replyU32(uint32(code))
	case 'C':
		var out [8]byte
		binary.LittleEndian.PutUint32(out[:], allocs)
		binary.LittleEndian.PutUint32(out[4:], handles)
		reply(addr(out[:]), 8)
	case 'F':
		return 7
	case 'G':
		b := make([]byte, int(binary.LittleEndian.Uint32(arg))<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		hold = append(hold, b)
	case 'L':
		count, size := binary.LittleEndian.Uint32(arg), binary.LittleEndian.Uint32(arg[4:])
		name := arg[9 : 9+int(arg[8])]
		if uint32(cap(loopBuf)) < size {
			loopBuf = make([]byte, size)
		}
		data := loopBuf[:size]
		if size >= 5 {
			copy(data, "\x00RRCN") // a receiver running this guest does nothing with it
		}
		var first uint32
		for i := uint32(0); i < count; i++ {
			if code := send(addr(name), uint32(len(name)), addr(data), size); code != 0 && first == 0 {
				first = uint32(code)
			}
		}
		replyU32(first)
	case 'N':
	case 'S':
		name := arg[1 : 1+int(arg[0])]
		data := arg[1+int(arg[0]):]
		replyU32(uint32(send(addr(name), uint32(len(name)), addr(data), uint32(len(data)))))
	case 'T':
		panic("conformance: trap requested")
	case 'W':
		for {
			spinSink++
		}
	}
	return 0
}

func main() {}
