// Command generate builds rrnode bench's guests, one for each name in
// bench.Modules, from examples/<name> with internal/wasmbuild's command,
// and writes them gzip-compressed into the guests package's directory
// (<name>.wasm.gz), with version.go naming the Go toolchain that built
// them. A guest whose module is unchanged keeps its file; a file for a name
// no longer in bench.Modules is removed.
//
// Run it as go generate ./internal/bench/guests (make generate-guests).
package main
