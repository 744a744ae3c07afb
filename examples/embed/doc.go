// Command embed is the smallest program that embeds a Roadrunner node: it
// loads the functions given as .wasm files on its command line into a node
// running the default engine (wazero: pure Go, no cgo), invokes the first one
// with the payload read from standard input, and writes the reply to standard
// output and the invocation's trace to standard error. Copy it to start a
// runtime or a platform of your own: everything rrnode does beyond this
// (listeners, peers, HTTP, metrics) is a field of node.Config or a method of
// node.Node.
//
// Each function is named after its file, build/wasm/producer.wasm being
// "producer", and its guests send to the others by those names. With the
// example pipeline (from the repository root, after make wasm):
//
//	echo -n 'hello, roadrunner' | go run ./examples/embed build/wasm/producer.wasm build/wasm/transform.wasm build/wasm/consumer.wasm
//
// prints the consumer's verdict
//
//	{"function":"consumer","bytes":17,"crc32c":"0xd6d3e26f","hops":2,"verified":true}
//
// and one line per hop on standard error. Compiled modules are cached in the
// engine's default directory ($XDG_CACHE_HOME or ~/.cache), so a second run
// starts faster. It exits with status 1 if loading or the invocation fails.
package main
