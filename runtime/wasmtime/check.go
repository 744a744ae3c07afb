//go:build wasmtime

package wasmtime

import (
	"fmt"

	wt "github.com/bytecodealliance/wasmtime-go/v35"

	"github.com/roadrunner-wasm/roadrunner/runtime"
)

// shape describes a compiled module for runtime.CheckABI.
func shape(m *wt.Module) runtime.ModuleShape {
	s := runtime.ModuleShape{Memories: map[string]bool{}, Functions: map[string]runtime.Signature{}}
	for _, ex := range m.Exports() {
		ty := ex.Type()
		switch {
		case ty.MemoryType() != nil:
			s.Memories[ex.Name()] = true
		case ty.FuncType() != nil:
			s.Functions[ex.Name()] = signature(ty.FuncType())
		}
	}
	for _, im := range m.Imports() {
		if im.Name() == nil || im.Type().FuncType() == nil {
			continue
		}
		s.Imports = append(s.Imports, runtime.Import{Module: im.Module(), Name: *im.Name(), Type: signature(im.Type().FuncType())})
	}
	return s
}

func signature(ft *wt.FuncType) runtime.Signature {
	var sig runtime.Signature
	for _, p := range ft.Params() {
		sig.Params = append(sig.Params, kindName(p.Kind()))
	}
	for _, r := range ft.Results() {
		sig.Results = append(sig.Results, kindName(r.Kind()))
	}
	return sig
}

// kindName is ValKind.String without its panic on kinds it does not know
// (v128).
func kindName(k wt.ValKind) string {
	switch k {
	case wt.KindI32, wt.KindI64, wt.KindF32, wt.KindF64, wt.KindExternref, wt.KindFuncref:
		return k.String()
	}
	return fmt.Sprintf("kind%d", k)
}
