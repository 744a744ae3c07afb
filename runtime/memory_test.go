package runtime

import (
	"strings"
	"testing"
)

// Hand-assembled module prefixes: the header, then sections.
var wasmHeader = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

func wasmModule(sections ...[]byte) []byte {
	out := append([]byte(nil), wasmHeader...)
	for _, s := range sections {
		out = append(out, s...)
	}
	return out
}

// section encodes a section whose payload is under 128 bytes.
func section(id byte, payload ...byte) []byte {
	return append([]byte{id, byte(len(payload))}, payload...)
}

var (
	// One memory, flags 0x01 (a maximum follows), min 300 (LEB128 0xac 0x02), max 400.
	memSec = section(5, 0x01, 0x01, 0xac, 0x02, 0x90, 0x03)
	// export "memory" as memory 0.
	exportMem0 = section(7, 0x01, 0x06, 'm', 'e', 'm', 'o', 'r', 'y', 0x02, 0x00)
	// export "memory" as memory 1.
	exportMem1 = section(7, 0x01, 0x06, 'm', 'e', 'm', 'o', 'r', 'y', 0x02, 0x01)
	// import env.f (function, type 0), then env.m (memory, min 7).
	importSec = section(2, 0x02,
		0x03, 'e', 'n', 'v', 0x01, 'f', 0x00, 0x00,
		0x03, 'e', 'n', 'v', 0x01, 'm', 0x02, 0x00, 0x07)
	custom = section(0, 0x01, 'x', 0xff)
)

func TestDeclaredMemoryMin(t *testing.T) {
	for _, tc := range []struct {
		name   string
		module []byte
		pages  uint64
		ok     bool
	}{
		{"own memory", wasmModule(memSec, exportMem0), 300, true},
		{"custom sections between", wasmModule(custom, memSec, custom, exportMem0), 300, true},
		{"imported memory", wasmModule(importSec, exportMem0), 7, true},
		{"own after imported", wasmModule(importSec, memSec, exportMem1), 300, true},
		{"export of a memory that does not exist", wasmModule(memSec, exportMem1), 0, false},
		{"no export", wasmModule(memSec), 0, false},
		{"not wasm", []byte("definitely not wasm"), 0, false},
		{"truncated section", wasmModule(memSec[:4]), 0, false},
		{"empty", nil, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pages, ok := declaredMemoryMin(tc.module)
			if pages != tc.pages || ok != tc.ok {
				t.Fatalf("declaredMemoryMin = %d, %v; want %d, %v", pages, ok, tc.pages, tc.ok)
			}
		})
	}
}

func TestMemoryLimit(t *testing.T) {
	mod := wasmModule(memSec, exportMem0) // min 300 pages
	for _, tc := range []struct {
		name      string
		engine    uint32
		maxMemory uint64
		pages     uint32
		err       string
	}{
		{"engine default", 0, 0, 65536, ""},
		{"engine limit", 1000, 0, 1000, ""},
		{"engine limit above 4 GiB", 1 << 20, 0, 65536, ""},
		{"max memory lower", 1000, 500<<16 + 1, 500, ""},
		{"max memory higher", 1000, 5000 << 16, 1000, ""},
		{"max memory at the minimum", 0, 300 << 16, 300, ""},
		{"max memory below the minimum", 0, 300<<16 - 1, 0, "19660800 bytes"},
		{"engine limit below the minimum", 299, 0, 0, "299 pages"},
		{"max memory under a page", 0, PageSize - 1, 0, "65535 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pages, err := MemoryLimit(FunctionSpec{Module: mod, MaxMemory: tc.maxMemory}, tc.engine)
			if tc.err == "" {
				if err != nil || pages != tc.pages {
					t.Fatalf("MemoryLimit = %d, %v; want %d", pages, err, tc.pages)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("MemoryLimit = %d, %v; want an error naming %q", pages, err, tc.err)
			}
		})
	}
}

func FuzzDeclaredMemoryMin(f *testing.F) {
	f.Add(wasmModule(memSec, exportMem0))
	f.Add(wasmModule(importSec, memSec, exportMem1))
	f.Fuzz(func(t *testing.T, b []byte) {
		declaredMemoryMin(b) // must not panic
	})
}
