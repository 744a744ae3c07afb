// Package tests holds Roadrunner's integration tests: they build the real
// rrnode binary and the example Wasm functions, run the node as a separate
// process (internal/nodeproc), and talk to it only as a user would, over
// HTTP and with signals.
//
// The package has no code outside its tests. When the tests run with -race,
// rrnode is built with -race too, so a data race in the node makes it exit
// with a non-zero status at shutdown, which the tests check.
package tests
