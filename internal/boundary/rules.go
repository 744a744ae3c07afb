package main

// module is the import path every pattern below is relative to.
const module = "github.com/roadrunner-wasm/roadrunner"

// rule says which packages the packages in from may not depend on.
// Patterns are relative to the module: "x" is the package x, "x/..." is x
// and every package under it, "..." is the whole module.
type rule struct {
	from   []string
	unless []string // packages of from the rule does not hold for
	forbid []string // packages from may not import, directly or through others
	except []string // ... unless they are one of these
	// nonStd also forbids every package outside the module and the standard
	// library.
	nonStd bool
	why    string
}

// rules are the dependency boundaries: `cmd → node → {transport, runtime/*}
// → internal/*`, with the leaves kept leaves.
var rules = []rule{{
	from:   []string{"transport/..."},
	forbid: []string{"runtime/...", "node/..."},
	why:    "transport knows nothing of Wasm engines or the node",
}, {
	from:   []string{"runtime/wazero/...", "runtime/wasmtime/...", "runtime/wasmedge/..."},
	forbid: []string{"transport/...", "node/..."},
	why:    "an engine adapter imports runtime only",
}, {
	from:   []string{"internal/ring/..."},
	unless: []string{"internal/ring/ringtest"},
	forbid: []string{"..."},
	except: []string{"internal/ring/..."},
	why:    "internal/ring is a leaf: io_uring and nothing of the project",
}, {
	// The backends' conformance suite is test code, with the strict skip.
	from:   []string{"internal/ring/ringtest"},
	forbid: []string{"..."},
	except: []string{"internal/ring/...", "internal/privileged"},
	why:    "ringtest tests internal/ring with the strict skip and nothing else of the project",
}, {
	from:   []string{"bpf/..."},
	forbid: []string{"..."},
	except: []string{"bpf/..."},
	why:    "bpf is a leaf: the sockmap program and its loader, nothing of the project",
}, {
	from:   []string{"guest/..."},
	forbid: []string{"..."},
	except: []string{"guest/...", "abi"},
	nonStd: true,
	why:    "the guest SDK builds for wasip1 and stays small: the standard library and abi only",
}, {
	from:   []string{"internal/bytesize"},
	forbid: []string{"..."},
	except: []string{"internal/bytesize"},
	nonStd: true,
	why:    "internal/bytesize is a leaf: the size grammar, the standard library only",
}}

// build is one configuration the rules are checked in.
type build struct {
	name     string
	env      []string // added to go list's environment
	tags     string   // -tags
	patterns []string // what to list; ./... if empty
}

// builds list the module the way its build tags and targets can compile it:
// the default build, every engine and backend tag at once (go list needs no
// cgo library), and the guest SDK for wasip1, where its imports live.
var builds = []build{
	{name: "default build"},
	{name: "-tags wasmtime,wasmedge,giouring", tags: "wasmtime,wasmedge,giouring"},
	{name: "GOOS=darwin", env: []string{"GOOS=darwin"}}, // the _other.go files
	{name: "GOOS=wasip1 GOARCH=wasm", env: []string{"GOOS=wasip1", "GOARCH=wasm"}, patterns: []string{"./guest/...", "./abi/..."}},
}
