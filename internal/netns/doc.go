// Package netns creates network namespaces and veth pairs for tests, so
// that nodes can talk over a real tcp path between "hosts" on one machine.
//
// [New] creates a named namespace the way `ip netns add` does: a file under
// /run/netns bind-mounted on the namespace, so `ip netns exec NAME …` works
// on it while a test runs, with its loopback interface up. [Veth] joins two
// namespaces with a veth pair and gives each end an address (the tests use
// 198.18.0.0/15, the benchmarking range). [NS.Close] removes the namespace;
// the kernel destroys it, and its veth ends, once the last process in it
// has exited.
//
// Code runs inside a namespace on a locked OS thread of its own ([NS.Do]):
// the thread enters the namespace, runs the function and goes back; if it
// cannot go back, it is not unlocked, and the runtime ends it with its
// goroutine rather than let other goroutines run in the wrong namespace. A
// socket stays in the namespace it was created in, so [NS.Listen] and
// [NS.DialContext] return sockets the rest of the program uses from any
// thread, and [NS.Start] starts a process inside the namespace (the child
// inherits the namespace of the thread that forks it).
//
// [ForTest] and [UniqueName] give each test its own name (prefix, process
// id, counter), so parallel test binaries do not collide; ForTest also
// removes namespaces left by test processes that died before their
// cleanup. Everything here needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN);
// ForTest skips strictly (internal/privileged) without it.
package netns
