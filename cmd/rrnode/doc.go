// Command rrnode is the Roadrunner node daemon and its client.
//
//	rrnode start --config FILE [--http ADDR] [--accel MODE] [--strict-accel]
//	             [--log-format text|json] [--log-level debug|info|warn|error]
//	rrnode invoke NAME [--data @FILE|-|TEXT] [--addr URL] [--trace] [-o raw|json]
//	rrnode cluster [--addr URL] [-o table|json]
//	rrnode probe [-o table|json]
//	rrnode version [-o table|json]    (rrnode --version: its first line)
//	rrnode bench [--sizes LIST] [--paths LIST] [-o table|csv|json]
//	rrnode health, keygen, completion SHELL
//
// start runs a node (package node) with the functions of a YAML config and
// serves its HTTP ingress until SIGINT or SIGTERM, then turns /readyz to 503,
// serves on for node.drain_delay, and drains: invocations in flight finish
// (up to node.drain_timeout; callers still waiting then get 503), functions
// close, and rrnode exits 0. invoke POSTs a payload to a node's ingress and writes the reply
// to standard output; it exits 1 if the invocation failed. version prints
// the version, the Go version and the engines compiled in.
//
// -o/--output picks a command's output format; each command's help says
// what its JSON holds. rrnode completion SHELL writes a completion script
// that also completes flag values (--accel, --engine, --output...) and
// invoke's function names, asked of the node at --addr. make docs writes
// the man pages (the hidden rrnode gen-man DIR) to build/man.
//
// Exit status: 0 on success, 1 on failure, 2 on a usage error.
package main
