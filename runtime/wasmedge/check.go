//go:build wasmedge

package wasmedge

// #include <wasmedge/wasmedge.h>
import "C"

import (
	"errors"
	"unsafe"

	we "github.com/second-state/WasmEdge-go/wasmedge"

	"github.com/roadrunner-wasm/roadrunner/runtime"
)

// shape describes a parsed module for runtime.CheckABI.
func shape(ast *we.AST) (runtime.ModuleShape, error) {
	s := runtime.ModuleShape{Memories: map[string]bool{}, Functions: map[string]runtime.Signature{}}
	for _, ex := range ast.ListExports() {
		switch ex.GetExternalType() {
		case we.ExternType_Memory:
			s.Memories[ex.GetExternalName()] = true
		case we.ExternType_Function:
			sig, err := signature(ex.GetExternalValue().(*we.FunctionType))
			if err != nil {
				return s, err
			}
			s.Functions[ex.GetExternalName()] = sig
		}
	}
	for _, im := range ast.ListImports() {
		if im.GetExternalType() != we.ExternType_Function {
			continue
		}
		sig, err := signature(im.GetExternalValue().(*we.FunctionType))
		if err != nil {
			return s, err
		}
		s.Imports = append(s.Imports, runtime.Import{Module: im.GetModuleName(), Name: im.GetExternalName(), Type: sig})
	}
	return s, nil
}

var errFuncTypeLayout = errors.New("cannot read a function type: wasmedge.FunctionType's layout is not the one this package was written for (WasmEdge-go v0.14.0)")

// signature reads a function type through WasmEdge's C API.
// FunctionType.GetParameters and GetReturns of WasmEdge-go v0.14.0
// dereference nil pointers (they fill a slice of nil *ValType), so the
// *WasmEdge_FunctionTypeContext is read from FunctionType's first,
// unexported field, and checked against the lengths FunctionType reports.
func signature(ft *we.FunctionType) (runtime.Signature, error) {
	var sig runtime.Signature
	if ft == nil || unsafe.Sizeof(*ft) != unsafe.Sizeof(struct {
		p   unsafe.Pointer
		own bool
	}{}) {
		return sig, errFuncTypeLayout
	}
	p := (*C.WasmEdge_FunctionTypeContext)(*(*unsafe.Pointer)(unsafe.Pointer(ft)))
	if p == nil {
		return sig, errFuncTypeLayout
	}
	np, nr := C.WasmEdge_FunctionTypeGetParametersLength(p), C.WasmEdge_FunctionTypeGetReturnsLength(p)
	if uint(np) != ft.GetParametersLength() || uint(nr) != ft.GetReturnsLength() {
		return sig, errFuncTypeLayout
	}
	types := make([]C.WasmEdge_ValType, max(np, nr, 1))
	C.WasmEdge_FunctionTypeGetParameters(p, &types[0], np)
	for _, t := range types[:np] {
		sig.Params = append(sig.Params, typeName(t))
	}
	C.WasmEdge_FunctionTypeGetReturns(p, &types[0], nr)
	for _, t := range types[:nr] {
		sig.Results = append(sig.Results, typeName(t))
	}
	return sig, nil
}

func typeName(t C.WasmEdge_ValType) string {
	switch {
	case bool(C.WasmEdge_ValTypeIsI32(t)):
		return "i32"
	case bool(C.WasmEdge_ValTypeIsI64(t)):
		return "i64"
	case bool(C.WasmEdge_ValTypeIsF32(t)):
		return "f32"
	case bool(C.WasmEdge_ValTypeIsF64(t)):
		return "f64"
	case bool(C.WasmEdge_ValTypeIsV128(t)):
		return "v128"
	case bool(C.WasmEdge_ValTypeIsFuncRef(t)):
		return "funcref"
	case bool(C.WasmEdge_ValTypeIsExternRef(t)):
		return "externref"
	case bool(C.WasmEdge_ValTypeIsRef(t)):
		return "ref"
	}
	return "unknown"
}
