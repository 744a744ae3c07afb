// Package wasmbuild compiles Go guest packages into WASI reactor modules
// with the host's Go toolchain, for tests and benchmarks. The Makefile's wasm
// target runs the same command (see Command) for the modules it builds, so
// what the tests load is what the demo runs. No .wasm is committed: each is
// built from its source on use.
package wasmbuild
