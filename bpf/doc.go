// Package bpf redirects messages between TCP sockets of one host with an
// eBPF sk_msg program, so that two nodes on one machine (each in its own
// network namespace, say) skip both TCP stacks and the veth between them.
//
// The program (sockmap.c, compiled by bpf2go into sockmap_bpfel.o) runs on
// every message sent on a socket in a SOCKHASH map. It looks up the peer of
// that socket under the reversed 4-tuple and, when the peer is in the map
// too, queues the message on the peer's receive queue (BPF_F_INGRESS).
// When the peer is not in the map the message goes through TCP as usual,
// so a socket inserted alone, or under a wrong key, degrades to plain TCP
// rather than losing data. A per-CPU counter of redirected messages and
// bytes ([Sockmap.Stats]) shows that the redirect happens.
//
// [Load] loads the program once per host and pins it, with its maps, in
// bpffs (by default under /sys/fs/bpf/roadrunner, mounting bpffs at
// /sys/fs/bpf if it is not mounted); later calls, in this process or
// another, reuse the pins, so every node of the host shares one map. The
// program is attached to the map before anything can be inserted. Each
// process inserts its own established sockets ([Sockmap.Add]); the kernel
// takes a socket out when it is closed, and [Sockmap.Remove] takes one out
// earlier. Every open Sockmap holds a shared flock on its pin directory;
// [Sockmap.CloseLast] removes the pins only when it can take that lock
// exclusively, that is when it is the host's last user, and a Load racing
// with it starts again on fresh pins.
//
// [Probe] answers whether this process could do all of that, leaving
// nothing behind: bpffs mountable, the program and maps loaded unpinned,
// one byte redirected between two loopback sockets.
//
// Every error that means "this host or this process may not use BPF
// sockmaps" (no CAP_BPF/CAP_NET_ADMIN, no bpffs, a kernel without sockmap
// or sk_msg) wraps [ErrNotSupported]; callers fall back to plain TCP on it.
//
// A socket in a sockmap behaves differently from plain TCP in two ways
// callers see: a blocking read interrupted by a signal returns EAGAIN
// instead of restarting, and SO_RCVLOWAT is ignored. Go's net package
// uses non-blocking sockets and its poller, which retries EAGAIN.
//
// Rebuild the program with `go generate ./bpf/` (clang-16, llvm-16 and
// libbpf-dev from Debian 12); the output is byte-identical across runs.
package bpf
