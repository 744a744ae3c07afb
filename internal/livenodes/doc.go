// Package livenodes starts real nodes in the test's process, with traffic
// on every path, for tests that read what nodes export: the promtool check
// of /metrics (node/promtool_test.go) and the dashboard's queries
// (deploy/grafana).
//
// [Start] makes three nodes that share a key: front, which hosts echo and
// relay, and two peers it sends to, one on the unix path and one on the tcp
// path. It then drives traffic through front that leaves a series in every
// metric a node exports without a kernel accelerator: sends on the memory,
// unix and tcp paths, an HTTP invocation, a send the peer refuses
// (unknown_function), a send to a peer nobody listens for (a dial
// failure), payloads the shm path cannot carry (a fallback) and a
// connection that fails authentication. Everything is closed when the test
// ends.
package livenodes
