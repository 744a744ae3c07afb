package wazero

import (
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/roadrunner-wasm/roadrunner/runtime"
)

// shape describes a compiled module for runtime.CheckABI.
func shape(m wazero.CompiledModule) runtime.ModuleShape {
	s := runtime.ModuleShape{Memories: map[string]bool{}, Functions: map[string]runtime.Signature{}}
	for name := range m.ExportedMemories() {
		s.Memories[name] = true
	}
	for name, def := range m.ExportedFunctions() {
		s.Functions[name] = signature(def)
	}
	for _, def := range m.ImportedFunctions() {
		mod, name, _ := def.Import()
		s.Imports = append(s.Imports, runtime.Import{Module: mod, Name: name, Type: signature(def)})
	}
	return s
}

func signature(def api.FunctionDefinition) runtime.Signature {
	var sig runtime.Signature
	for _, p := range def.ParamTypes() {
		sig.Params = append(sig.Params, api.ValueTypeName(p))
	}
	for _, r := range def.ResultTypes() {
		sig.Results = append(sig.Results, api.ValueTypeName(r))
	}
	return sig
}
