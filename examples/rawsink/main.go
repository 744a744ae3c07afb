//go:build wasip1

package main

import (
	"encoding/json"
	"fmt"
	"time"
	"unsafe"

	"github.com/roadrunner-wasm/roadrunner/abi"
	"github.com/roadrunner-wasm/roadrunner/internal/bench/payload"
)

//go:wasmimport rawhttp body_read
func bodyRead(ptr, n uint32) int32

//go:wasmimport rawhttp respond
func respond(ptr, n uint32) int32

type verdict struct {
	OK       bool   `json:"ok"`
	Seq      uint64 `json:"seq"`
	VerifyNS int64  `json:"verify_ns"`
	Error    string `json:"error,omitempty"`
}

var (
	buf     []byte // the receive buffer, reused for every body
	lastSeq uint64
	anySeq  bool
	tail    [8]byte // where the read that must find the body's end goes
)

func ptr(b []byte) uint32 { return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }

//lint:ignore U1000 called by the host: staticcheck does not see go:wasmexport.
//go:wasmexport raw_handle
func rawHandle(n uint32) int32 {
	var v verdict
	err := receive(n, &v)
	if err == nil {
		v.OK = true
	} else {
		v.Error = err.Error()
	}
	out, merr := json.Marshal(v)
	if merr != nil {
		return 1
	}
	if c := respond(ptr(out), uint32(len(out))); c != 0 {
		return c
	}
	if err != nil {
		return 1
	}
	return 0
}

// receive reads a body of n bytes into buf and verifies it.
func receive(n uint32, v *verdict) error {
	if uint32(cap(buf)) < n {
		buf = nil // let the old buffer go before the new one is made
		buf = make([]byte, (uint64(n)+65535)&^65535)
	}
	p := buf[:n]
	for off := 0; off < len(p); {
		got := bodyRead(ptr(p[off:]), uint32(len(p)-off))
		switch {
		case got < 0:
			return fmt.Errorf("body_read after %d of %d bytes: %w", off, n, abi.Code(got))
		case got == 0:
			return fmt.Errorf("the body ended after %d of %d bytes", off, n)
		case int(got) > len(p)-off:
			return fmt.Errorf("body_read returned %d for %d bytes", got, len(p)-off)
		}
		off += int(got)
	}
	if got := bodyRead(ptr(tail[:]), uint32(len(tail))); got != 0 {
		if got < 0 {
			return fmt.Errorf("body_read at the end: %w", abi.Code(got))
		}
		return fmt.Errorf("the body is longer than its %d bytes", n)
	}
	t0 := time.Now()
	seq, err := payload.Check(p)
	if err == nil && anySeq && seq <= lastSeq {
		err = fmt.Errorf("seq %d after seq %d: a payload delivered twice or out of order", seq, lastSeq)
	}
	payload.Clear(p)
	v.Seq, v.VerifyNS = seq, int64(time.Since(t0))
	if err != nil {
		return err
	}
	lastSeq, anySeq = seq, true
	return nil
}

func main() {}
