// Package tests holds Roadrunner's integration tests: they build the real
// rrnode binary and the example Wasm functions, run nodes as separate
// processes (internal/nodeproc), and talk to them as a user or a peer node
// would: over HTTP, with signals, and over the unix and tcp paths. Nodes on
// the tcp path run in network namespaces joined by veth pairs, which the
// tests create and remove (internal/netns; root needed, and required in CI
// through RR_REQUIRE_PRIVILEGED=1). The bad-frame tests open raw
// connections to a node's listeners and write frames by hand; the
// fallback test runs a node under a seccomp filter that refuses splice and
// vmsplice.
//
// The package has no code outside its tests. When the tests run with -race,
// rrnode is built with -race too, so a data race in the node makes it exit
// with a non-zero status at shutdown, which the tests check.
package tests
