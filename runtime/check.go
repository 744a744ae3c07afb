package runtime

import (
	"fmt"
	"slices"
	"strings"
)

// Signature is a function type in the text format's words: "i32", "i64",
// "f32", "f64", …
type Signature struct {
	Params, Results []string
}

func (s Signature) String() string {
	return "(" + strings.Join(s.Params, ", ") + ") -> (" + strings.Join(s.Results, ", ") + ")"
}

func (s Signature) equal(o Signature) bool {
	return slices.Equal(s.Params, o.Params) && slices.Equal(s.Results, o.Results)
}

// Import is a function a module imports.
type Import struct {
	Module, Name string
	Type         Signature
}

// ModuleShape is what CheckABI needs to know of a compiled module, in
// engine-neutral terms; each engine reads it off its own module type.
type ModuleShape struct {
	Memories  map[string]bool      // exported memories, by name
	Functions map[string]Signature // exported functions, by name
	Imports   []Import             // imported functions
}

var (
	i32          = "i32"
	abiExports   = map[string]Signature{ExportAlloc: {[]string{i32}, []string{i32}}, ExportHandle: {[]string{i32, i32}, []string{i32}}}
	abiImports   = map[string]Signature{ImportSend: {[]string{i32, i32, i32, i32}, []string{i32}}, ImportReply: {[]string{i32, i32}, []string{i32}}}
	exportsOrder = []string{ExportAlloc, ExportHandle}
)

// CheckABI verifies that a module meets ABI version 1 — it exports memory,
// rr_alloc and rr_handle with their types, and imports from "roadrunner"
// only send and reply with theirs — so that a wrong module fails at load
// with a message that names what is wrong. It reports whether the module is
// a reactor whose _initialize must run once per instance; a WASI command
// module (one that exports _start and no _initialize) is refused. Every
// engine calls it, so that all refuse the same modules in the same words.
func CheckABI(m ModuleShape) (initialize bool, err error) {
	if !m.Memories[ExportMemory] {
		return false, fmt.Errorf("module does not export %q (ABI v%d)", ExportMemory, ABIVersion)
	}
	for _, name := range exportsOrder {
		want := abiExports[name]
		got, ok := m.Functions[name]
		if !ok {
			return false, fmt.Errorf("module does not export %s %s (ABI v%d)", name, want, ABIVersion)
		}
		if !got.equal(want) {
			return false, fmt.Errorf("export %s has type %s, want %s", name, got, want)
		}
	}
	for _, im := range m.Imports {
		if im.Module != ImportModule {
			continue
		}
		want, ok := abiImports[im.Name]
		if !ok {
			return false, fmt.Errorf("module imports %s.%s, which ABI v%d does not define", im.Module, im.Name, ABIVersion)
		}
		if !im.Type.equal(want) {
			return false, fmt.Errorf("import %s.%s has type %s, want %s", im.Module, im.Name, im.Type, want)
		}
	}
	if _, ok := m.Functions[ExportInit]; ok {
		return true, nil
	}
	if _, ok := m.Functions["_start"]; ok {
		return false, fmt.Errorf("module is a WASI command (exports _start, not %s): build it as a reactor (Go: -buildmode=c-shared)", ExportInit)
	}
	return false, nil
}
