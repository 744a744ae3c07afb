// Package node composes Roadrunner: it loads a configuration's functions
// into an engine, routes their sends, takes invocations over HTTP and
// exports metrics. cmd/rrnode is a thin shell around it.
//
// # Invocations and sends
//
// An invocation starts at the ingress ([Node.Invoke], or POST
// /v1/functions/{name}): the payload is written straight into the memory
// of an instance of the named function (the request body is read into it),
// and that function's rr_handle runs. Its guest may send to other functions
// of the node; each send travels the memory path (transport.Memory): one
// copy from the sender's memory into the receiver's, no intermediate buffer,
// and, in steady state, no allocation on the host. The send returns to the
// sender after the receiver's rr_handle has returned. The first reply of any
// function of the chain answers the invocation; a second gets
// runtime.CodeAlreadyReplied.
//
// What an invocation carries down its chain (its reply writer, its trace,
// the functions running on it) travels in the context the node hands to
// every delivery, which the engine hands back to the node's Send and Reply.
//
// # Peers and the cluster
//
// A send to a function the node does not host goes to a peer node that
// does, over the unix or tcp path (transport.Peer). Peers are listed in
// the configuration (peers), found through DNS (cluster.dns: a name that
// resolves to every node, such as a Kubernetes headless Service), or both.
// Each peer, once it passed the HELLO (and proved the key), says in its
// directory what it hosts, which host it runs on and where its unix socket
// is; [Node.Cluster] and GET /v1/cluster show what the node knows. A send
// takes the nearest replica (node.route: nearest): this node's memory
// path, else a peer of this host (over its unix socket once the node there
// proved to be the same), else a peer of another host; the less loaded of
// two picked at random among equals. A peer that fails is marked down
// with a backoff; a send that never left is tried once on another replica,
// no other is repeated. The chain's depth travels with the payload, so
// max_depth applies across nodes, and the peer's hops come back into the
// caller's trace.
//
// # Limits, checked before the receiver allocates
//
// A send to an unknown name fails with runtime.CodeUnknownFunction, a
// payload over the receiver's max_payload with runtime.CodeTooLarge, and a
// chain longer than max_depth with runtime.CodeBusy. A function already on
// the chain (a cycle: a sends to a, or a to b to a) is delivered to only if
// one of its instances is idle; otherwise the send fails at once with
// runtime.CodeBusy, instead of waiting for an instance that its own chain
// holds.
//
// # Traces and metrics
//
// Each hop of an invocation (the ingress, then every send in the order they
// started) is recorded in a [Trace]: its path, its size, the time until the
// payload sat in the receiver's memory, the time until the receiver
// returned, and its result as an ABI code label. HTTP returns the trace in
// the Rr-Trace header or trailer. With node.tracing (or
// [Options].TracerProvider) each hop and each transfer is also an
// OpenTelemetry span, exported over OTLP, in the trace of the request's
// traceparent, which a send to a peer carries in its frame; without it the
// node makes no span and each hook is a nil check. Metrics (docs/METRICS.md)
// are registered on Options.Registerer, or a registry of the node's own,
// and served on /metrics.
//
// # Shutdown
//
// [Node.Shutdown] drains: it refuses new invocations, lets the ones in
// flight finish (or cancels them when its context ends), then closes the
// functions and the engine it made. What guests write to stdout and stderr
// is logged, one record per line, tagged with the function's name.
package node
