// Package guests holds rrnode bench's guest modules, compiled, so that
// rrnode bench runs from an installed binary (go install, no checkout, no
// Go toolchain for wasip1 at hand).
//
// Each guest is the WASI reactor built from examples/<name> (see [Source])
// by the command internal/wasmbuild runs and the Makefile's wasm target
// runs: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath.
// That build is reproducible: the same sources and the same Go toolchain
// give the same bytes, in any directory, with or without VCS stamping. The
// modules are stored gzip-compressed (<name>.wasm.gz) and embedded.
//
// The files are generated, one per name of bench.Modules, by
//
//	go generate ./internal/bench/guests    (or: make generate-guests)
//
// and committed. This package's test rebuilds every guest from its source
// and fails if an embedded module differs from it, or if the embedded set
// is not bench.Modules: what rrnode bench runs is what the sources say,
// as cilium/ebpf checks its committed bpf2go output. [GoVersion] is the
// toolchain that made them; another toolchain makes other bytes, and the
// test says so.
//
// rrnode bench writes the guests into a temporary directory ([WriteDir])
// for the nodes it starts, unless --wasm-dir names a directory of its own.
package guests
