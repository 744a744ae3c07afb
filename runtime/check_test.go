package runtime_test

import (
	"strings"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/runtime"
)

func TestCheckABI(t *testing.T) {
	i32 := []string{"i32"}
	valid := func() runtime.ModuleShape {
		return runtime.ModuleShape{
			Memories: map[string]bool{"memory": true},
			Functions: map[string]runtime.Signature{
				"rr_alloc":    {Params: i32, Results: i32},
				"rr_handle":   {Params: []string{"i32", "i32"}, Results: i32},
				"_initialize": {},
			},
			Imports: []runtime.Import{
				{Module: "roadrunner", Name: "send", Type: runtime.Signature{Params: []string{"i32", "i32", "i32", "i32"}, Results: i32}},
				{Module: "wasi_snapshot_preview1", Name: "fd_write", Type: runtime.Signature{Params: []string{"i32", "i32", "i32", "i32"}, Results: i32}},
			},
		}
	}
	if init, err := runtime.CheckABI(valid()); err != nil || !init {
		t.Fatalf("a valid reactor: initialize %v, err %v", init, err)
	}
	for _, tc := range []struct {
		name   string
		modify func(*runtime.ModuleShape)
		want   string
	}{
		{"no memory", func(m *runtime.ModuleShape) { delete(m.Memories, "memory") }, `does not export "memory"`},
		{"no rr_alloc", func(m *runtime.ModuleShape) { delete(m.Functions, "rr_alloc") }, "does not export rr_alloc (i32) -> (i32)"},
		{"mistyped rr_handle", func(m *runtime.ModuleShape) { m.Functions["rr_handle"] = runtime.Signature{Params: i32, Results: i32} }, "export rr_handle has type (i32) -> (i32), want (i32, i32) -> (i32)"},
		{"unknown import", func(m *runtime.ModuleShape) {
			m.Imports = append(m.Imports, runtime.Import{Module: "roadrunner", Name: "recv"})
		}, "roadrunner.recv, which ABI v1 does not define"},
		{"mistyped import", func(m *runtime.ModuleShape) { m.Imports[0].Type.Results = nil }, "import roadrunner.send has type (i32, i32, i32, i32) -> ()"},
		{"command", func(m *runtime.ModuleShape) {
			delete(m.Functions, "_initialize")
			m.Functions["_start"] = runtime.Signature{}
		}, "WASI command"},
	} {
		m := valid()
		tc.modify(&m)
		if _, err := runtime.CheckABI(m); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want it to say %q", tc.name, err, tc.want)
		}
	}
}
