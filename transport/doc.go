// Package transport moves payloads into a receiver's memory. It knows nothing
// of WebAssembly: a receiver is a [Sink], which lends a view of the memory a
// payload must land in for exactly as long as it takes to fill it, and is
// told where the payload comes from (an [Origin]: its path, where a reply
// goes, what carried it).
//
// The memory path ([Memory]) serves a sender and a receiver in one process:
// it copies the sender's payload once, straight from the sender's view into
// the receiver's, with no intermediate buffer and no allocation per transfer.
// It works on every operating system.
//
// The unix and tcp paths serve nodes in other processes and on other hosts
// (docs/PROTOCOL.md; the frame codec is package [wire]). A [Peer] is the
// sending side: persistent connections to one node, one transfer at a time
// on each, and Send returns only after the receiver's ACK, so the sender may
// reuse its buffer at once. Each connection's send mechanism is chosen once,
// when it is dialed, behind a small interface (sender.go lists them): one
// writev on the unix path; on the tcp path writev in chunks
// ([MechanismWrite]), vmsplice and splice through a pipe
// ([MechanismSplice]), or [MechanismAuto], which measures both and keeps the
// cheaper; io_uring for large payloads ([DialOptions].IOURing); the host's
// eBPF sockmap for tcp connections between nodes of one host ([Sockmap]).
// [Sent] says which mechanism carried each transfer. A [Server] is the
// receiving side: it validates each frame's header and name before the Sink
// is asked for memory, reads the payload from the socket straight into the
// Sink's view (through the connection's io_uring once a large payload
// arrives, with [ServerOptions].IOURing), and answers with an ACK carrying
// the receiver's result; a malformed frame closes its connection and
// reaches no receiver. A Server bounds what a connection and a source can
// hold: each read of a frame must make progress
// ([ServerOptions].ReadProgressTimeout), a header must be whole soon after
// its first byte, a connection must send its first frame soon after
// accept, and a source (an IP address, a unix peer's process:
// [Origin].Source) holds at most MaxConnsPerSource connections; a full
// listener evicts an idle connection of its heaviest source for
// another's.
//
// [ListenUnix] makes a unix path socket with a given
// mode, replacing a stale one and refusing to take a live one;
// [ServerOptions].UnixAllow narrows who may connect to it further, by the
// uid and gid the kernel recorded of the connecting process.
//
// Nodes of a cluster learn from each other what each hosts: with
// [DialOptions].Directory and [ServerOptions].Directory set, both ends say
// so in their HELLO, [Peer.Exchange] trades directories (name, instance,
// host, unix socket, functions) in DIRECTORY frames, [Peer.SendWith] tells
// the receiver the chain's depth and asks for the hops it makes, and an
// error matching [ErrNotSent] says a send never left this process, so
// that it may be tried elsewhere.
//
// Paths, mechanisms and accelerator sets are types ([Path], [Mechanism],
// [Accels]) with one Parse each; their String is what metrics, logs and
// flags spell.
//
// Kernel features are probed once and cached, in package [features]:
// operations try first and consult a probe only to explain a failure. A
// mechanism or accelerator the system refuses falls back to plain system
// calls, and every transfer that falls back is reported to
// [DialOptions].OnFallback and [ServerOptions].OnFallback. The package logs
// only to a logger it is given ([DialOptions].Logger,
// [ServerOptions].Logger), and only what is not reported otherwise:
// refusals, fallbacks and mechanism choices go to callbacks, and the caller
// decides what to log (node logs the first of each kind).
//
// The unix and tcp paths need Linux: elsewhere [NewPeer] and [ListenUnix]
// fail with an error wrapping [ErrNotSupported], and the memory path works.
package transport
