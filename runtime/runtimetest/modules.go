package runtimetest

// A minimal WebAssembly binary encoder for the suite's malformed modules.
// Only what those modules use: func types of i32s, functions, one memory,
// exports.

const (
	secType     = 1
	secFunction = 3
	secMemory   = 5
	secExport   = 7
	secCode     = 10

	kindFunc   = 0
	kindMemory = 2

	valI32 = 0x7f
)

type wasmFunc struct {
	export  string
	params  int // i32 parameters
	results int // i32 results
	body    []byte
}

// assemble returns a module with the given functions, and one exported
// memory of one page if withMemory.
func assemble(withMemory bool, funcs ...wasmFunc) []byte {
	if withMemory {
		return assembleMemory(1, funcs...)
	}
	return module(false, 0, funcs)
}

// assembleMemory returns a module with the given functions and one
// exported memory whose declared minimum is minPages.
func assembleMemory(minPages uint32, funcs ...wasmFunc) []byte {
	return module(true, minPages, funcs)
}

func module(withMemory bool, minPages uint32, funcs []wasmFunc) []byte {
	out := []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}
	section := func(id byte, payload []byte) {
		out = append(out, id)
		out = appendU32(out, uint32(len(payload)))
		out = append(out, payload...)
	}
	var types, fns, exports, code []byte
	types = appendU32(types, uint32(len(funcs)))
	fns = appendU32(fns, uint32(len(funcs)))
	nExports := len(funcs)
	if withMemory {
		nExports++
	}
	exports = appendU32(exports, uint32(nExports))
	code = appendU32(code, uint32(len(funcs)))
	for i, f := range funcs {
		types = append(types, 0x60)
		types = appendU32(types, uint32(f.params))
		for range f.params {
			types = append(types, valI32)
		}
		types = appendU32(types, uint32(f.results))
		for range f.results {
			types = append(types, valI32)
		}
		fns = appendU32(fns, uint32(i))
		exports = appendName(exports, f.export)
		exports = append(exports, kindFunc)
		exports = appendU32(exports, uint32(i))
		body := append([]byte{0x00}, f.body...) // no locals
		code = appendU32(code, uint32(len(body)))
		code = append(code, body...)
	}
	if withMemory {
		exports = appendName(exports, "memory")
		exports = append(exports, kindMemory, 0x00)
	}
	section(secType, types)
	section(secFunction, fns)
	if withMemory {
		section(secMemory, appendU32([]byte{0x01, 0x00}, minPages)) // one memory, no max
	}
	section(secExport, exports)
	section(secCode, code)
	return out
}

func appendU32(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

func appendName(b []byte, s string) []byte {
	b = appendU32(b, uint32(len(s)))
	return append(b, s...)
}

// Function bodies.
var (
	// i32.const 1024; end
	bodyAlloc1024 = []byte{0x41, 0x80, 0x08, 0x0b}
	// i32.const 0; end
	bodyReturn0 = []byte{0x41, 0x00, 0x0b}
	// if (i32.load8_u(ptr) == 255) unreachable; i32.const 0; end
	bodyTrapOnFF = []byte{0x20, 0x00, 0x2d, 0x00, 0x00, 0x41, 0xff, 0x01, 0x46, 0x04, 0x40, 0x00, 0x0b, 0x41, 0x00, 0x0b}
	// end (no params, no results)
	bodyEmpty = []byte{0x0b}
)

var (
	fnAlloc     = wasmFunc{export: "rr_alloc", params: 1, results: 1, body: bodyAlloc1024}
	fnHandle    = wasmFunc{export: "rr_handle", params: 2, results: 1, body: bodyReturn0}
	fnHandleFF  = wasmFunc{export: "rr_handle", params: 2, results: 1, body: bodyTrapOnFF}
	fnHandleBad = wasmFunc{export: "rr_handle", params: 1, results: 1, body: bodyReturn0}
	fnStart     = wasmFunc{export: "_start", body: bodyEmpty}
)
