package runtime

import (
	"errors"
	"fmt"
)

// PageSize is the size of a WebAssembly memory page.
const PageSize = 65536

// maxPages is the most pages a 32-bit memory has: 4 GiB.
const maxPages = 65536

// MemoryLimit returns the most pages each instance of spec's module may grow
// its memory to: engineLimit (the engine's own limit, in pages; 0 means
// 65536, 4 GiB), or spec.MaxMemory rounded down to whole pages if that is
// lower. It fails if spec.MaxMemory is set and under one page, or if the
// module declares a minimum memory above the limit: such a module could
// not even be instantiated, and the error says so in the same words on
// every engine, before the engine compiles anything.
func MemoryLimit(spec FunctionSpec, engineLimit uint32) (pages uint32, err error) {
	pages = engineLimit
	if pages == 0 || pages > maxPages {
		pages = maxPages
	}
	if spec.MaxMemory != 0 {
		if spec.MaxMemory < PageSize {
			return 0, fmt.Errorf("memory limit of %d bytes is less than one %d-byte page", spec.MaxMemory, PageSize)
		}
		pages = uint32(min(uint64(pages), spec.MaxMemory/PageSize))
	}
	if least, ok := declaredMemoryMin(spec.Module); ok && least > uint64(pages) {
		return 0, fmt.Errorf("module's memory starts at %d pages (%d bytes), above the memory limit of %d pages (%d bytes)",
			least, least*PageSize, pages, uint64(pages)*PageSize)
	}
	return pages, nil
}

// declaredMemoryMin returns the minimum, in pages, that module declares
// for the memory it exports as "memory", imported or its own. ok is false
// if the binary cannot be read that far (the engine's compiler then says
// what is wrong with it) or exports no such memory (CheckABI says so).
func declaredMemoryMin(module []byte) (pages uint64, ok bool) {
	r := wasmReader{b: module}
	if len(module) < 8 || string(module[:4]) != "\x00asm" {
		return 0, false
	}
	r.b = module[8:]
	var mins []uint64 // every memory's minimum, in index space order
	for len(r.b) > 0 {
		id := r.byte()
		size := r.u64()
		if r.err != nil || size > uint64(len(r.b)) {
			return 0, false
		}
		sec := wasmReader{b: r.b[:size]}
		r.b = r.b[size:]
		switch id {
		case 2: // imports
			for n := sec.u64(); n > 0 && sec.err == nil; n-- {
				sec.name()
				sec.name()
				switch sec.byte() {
				case 0x00: // function: type index
					sec.u64()
				case 0x01: // table: reference type, limits
					sec.byte()
					sec.limits()
				case 0x02: // memory
					mins = append(mins, sec.limits())
				case 0x03: // global: value type, mutability
					sec.byte()
					sec.byte()
				case 0x04: // tag: attribute, type index
					sec.byte()
					sec.u64()
				default:
					return 0, false
				}
			}
		case 5: // memories
			for n := sec.u64(); n > 0 && sec.err == nil; n-- {
				mins = append(mins, sec.limits())
			}
		case 7: // exports
			for n := sec.u64(); n > 0 && sec.err == nil; n-- {
				name := sec.name()
				kind := sec.byte()
				idx := sec.u64()
				if sec.err == nil && kind == 0x02 && name == ExportMemory && idx < uint64(len(mins)) {
					return mins[idx], true
				}
			}
			return 0, false
		}
		if sec.err != nil {
			return 0, false
		}
	}
	return 0, false
}

var errUnreadable = errors.New("unreadable")

// wasmReader reads the binary format's integers and names; the first
// error sticks and every later read returns zero.
type wasmReader struct {
	b   []byte
	err error
}

func (r *wasmReader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.err = errUnreadable
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// u64 reads an unsigned LEB128 integer of at most 64 bits.
func (r *wasmReader) u64() uint64 {
	var v uint64
	for shift := 0; shift < 64; shift += 7 {
		c := r.byte()
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
	r.err = errUnreadable
	return 0
}

func (r *wasmReader) name() string {
	n := r.u64()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errUnreadable
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// limits reads a memory's or table's limits and returns the minimum. The
// flags: bit 0 a maximum follows, bit 1 shared, bit 2 64-bit; a flag
// beyond those (custom page sizes) is not read.
func (r *wasmReader) limits() uint64 {
	flags := r.byte()
	if flags&^0x07 != 0 {
		r.err = errUnreadable
		return 0
	}
	lo := r.u64()
	if flags&0x01 != 0 {
		r.u64()
	}
	return lo
}
