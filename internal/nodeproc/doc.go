// Package nodeproc runs an rrnode binary as a child process, for the demo
// and the end-to-end tests: the node under test is a separate process,
// reached only over HTTP and stopped only by a signal, as in production.
//
// [Start] picks a free port on 127.0.0.1, runs
//
//	rrnode start --config FILE --http 127.0.0.1:PORT [extra args]
//
// and returns once GET /readyz answers 200: its functions are loaded and
// every listener serves (GET /healthz answers 200 earlier, while the
// modules compile). If the node exits first, or does not become ready
// within the start timeout, Start kills it and
// returns an error that quotes the end of what it wrote to standard error.
// [Node.Stop] sends SIGTERM, waits for the node to drain and exit, sends
// SIGKILL if it does not within the stop timeout, and returns the exit
// status: a clean shutdown is status 0 and a nil error.
//
// rrnode handles SIGTERM from its first instruction, so Stop is a clean
// stop (status 0) at any moment, even one before the node is healthy; a
// node that Start returned has started and Stop drains it.
//
// [Node.Kill] sends SIGKILL instead, for tests of a node that dies.
//
// With [Options.NetNS] the node runs inside a network namespace (see
// internal/netns): its free port is picked there, and the health check and
// [Node.Client] make their connections inside that namespace, so a test
// process in the root namespace reaches it.
//
// Call Stop (in a test, from Cleanup) on every path. On Linux the node is
// also killed if its parent process dies first, so that a test binary killed
// by its -timeout leaves no node behind.
package nodeproc
