//go:build wasmtime

package wasmtime

import (
	"fmt"
	"slices"

	wt "github.com/bytecodealliance/wasmtime-go/v35"

	"github.com/roadrunner-wasm/roadrunner/runtime"
)

var (
	i32          = wt.KindI32
	wantExports  = map[string][2][]wt.ValKind{runtime.ExportAlloc: {{i32}, {i32}}, runtime.ExportHandle: {{i32, i32}, {i32}}}
	wantImports  = map[string][2][]wt.ValKind{runtime.ImportSend: {{i32, i32, i32, i32}, {i32}}, runtime.ImportReply: {{i32, i32}, {i32}}}
	exportsOrder = []string{runtime.ExportAlloc, runtime.ExportHandle}
)

// checkModule verifies the ABI version 1 exports and roadrunner imports of a
// compiled module, so that a wrong module fails at load with a message that
// names what is wrong. It reports whether the module is a reactor whose
// _initialize must run per instance.
func checkModule(m *wt.Module) (initialize bool, err error) {
	exports := map[string]*wt.ExternType{}
	for _, ex := range m.Exports() {
		exports[ex.Name()] = ex.Type()
	}
	if ty, ok := exports[runtime.ExportMemory]; !ok || ty.MemoryType() == nil {
		return false, fmt.Errorf("module does not export %q (ABI v%d)", runtime.ExportMemory, runtime.ABIVersion)
	}
	for _, name := range exportsOrder {
		want := wantExports[name]
		ty, ok := exports[name]
		if !ok || ty.FuncType() == nil {
			return false, fmt.Errorf("module does not export %s %s (ABI v%d)", name, sig(want[0], want[1]), runtime.ABIVersion)
		}
		params, results := kinds(ty.FuncType())
		if !slices.Equal(params, want[0]) || !slices.Equal(results, want[1]) {
			return false, fmt.Errorf("export %s has type %s, want %s", name, sig(params, results), sig(want[0], want[1]))
		}
	}
	for _, im := range m.Imports() {
		if im.Module() != runtime.ImportModule || im.Name() == nil {
			continue
		}
		name := *im.Name()
		want, ok := wantImports[name]
		ft := im.Type().FuncType()
		if !ok || ft == nil {
			return false, fmt.Errorf("module imports %s.%s, which ABI v%d does not define", runtime.ImportModule, name, runtime.ABIVersion)
		}
		params, results := kinds(ft)
		if !slices.Equal(params, want[0]) || !slices.Equal(results, want[1]) {
			return false, fmt.Errorf("import %s.%s has type %s, want %s", runtime.ImportModule, name, sig(params, results), sig(want[0], want[1]))
		}
	}
	if ty, ok := exports[runtime.ExportInit]; ok && ty.FuncType() != nil {
		return true, nil
	}
	if _, ok := exports["_start"]; ok {
		return false, fmt.Errorf("module is a WASI command (exports _start, not %s): build it as a reactor (Go: -buildmode=c-shared)", runtime.ExportInit)
	}
	return false, nil
}

func kinds(ft *wt.FuncType) (params, results []wt.ValKind) {
	for _, p := range ft.Params() {
		params = append(params, p.Kind())
	}
	for _, r := range ft.Results() {
		results = append(results, r.Kind())
	}
	return params, results
}

func sig(params, results []wt.ValKind) string {
	s := "("
	for i, p := range params {
		if i > 0 {
			s += ", "
		}
		s += kindName(p)
	}
	s += ") -> ("
	for i, r := range results {
		if i > 0 {
			s += ", "
		}
		s += kindName(r)
	}
	return s + ")"
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
