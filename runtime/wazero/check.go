package wazero

import (
	"fmt"
	"slices"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/roadrunner-wasm/roadrunner/runtime"
)

var (
	i32          = api.ValueTypeI32
	wantExports  = map[string][2][]api.ValueType{runtime.ExportAlloc: {{i32}, {i32}}, runtime.ExportHandle: {{i32, i32}, {i32}}}
	wantImports  = map[string][2][]api.ValueType{runtime.ImportSend: {{i32, i32, i32, i32}, {i32}}, runtime.ImportReply: {{i32, i32}, {i32}}}
	exportsOrder = []string{runtime.ExportAlloc, runtime.ExportHandle}
)

// checkModule verifies the ABI version 1 exports and roadrunner imports of a
// compiled module, so that a wrong module fails at load with a message that
// names what is wrong. It returns the start function to run per instance:
// _initialize for a reactor, none for a module that exports neither.
func checkModule(m wazero.CompiledModule) (start string, err error) {
	if _, ok := m.ExportedMemories()[runtime.ExportMemory]; !ok {
		return "", fmt.Errorf("module does not export %q (ABI v%d)", runtime.ExportMemory, runtime.ABIVersion)
	}
	exports := m.ExportedFunctions()
	for _, name := range exportsOrder {
		want := wantExports[name]
		def, ok := exports[name]
		if !ok {
			return "", fmt.Errorf("module does not export %s %s (ABI v%d)", name, sig(want[0], want[1]), runtime.ABIVersion)
		}
		if !slices.Equal(def.ParamTypes(), want[0]) || !slices.Equal(def.ResultTypes(), want[1]) {
			return "", fmt.Errorf("export %s has type %s, want %s", name, sig(def.ParamTypes(), def.ResultTypes()), sig(want[0], want[1]))
		}
	}
	for _, def := range m.ImportedFunctions() {
		mod, name, _ := def.Import()
		if mod != runtime.ImportModule {
			continue
		}
		want, ok := wantImports[name]
		if !ok {
			return "", fmt.Errorf("module imports %s.%s, which ABI v%d does not define", mod, name, runtime.ABIVersion)
		}
		if !slices.Equal(def.ParamTypes(), want[0]) || !slices.Equal(def.ResultTypes(), want[1]) {
			return "", fmt.Errorf("import %s.%s has type %s, want %s", mod, name, sig(def.ParamTypes(), def.ResultTypes()), sig(want[0], want[1]))
		}
	}
	if _, ok := exports[runtime.ExportInit]; ok {
		return runtime.ExportInit, nil
	}
	if _, ok := exports["_start"]; ok {
		return "", fmt.Errorf("module is a WASI command (exports _start, not %s): build it as a reactor (Go: -buildmode=c-shared)", runtime.ExportInit)
	}
	return "", nil
}

func sig(params, results []api.ValueType) string {
	s := "("
	for i, p := range params {
		if i > 0 {
			s += ", "
		}
		s += api.ValueTypeName(p)
	}
	s += ") -> ("
	for i, r := range results {
		if i > 0 {
			s += ", "
		}
		s += api.ValueTypeName(r)
	}
	return s + ")"
}
