// Package ring is the project's io_uring layer: a [Ring] queues requests
// (send, zero-copy send, sendmsg, receive, cancellation), submits them to
// the kernel in batches and reaps their completions. [Ring] is what the
// transport uses; the backends' types have more (file I/O, splice, fixed
// buffers, timeouts), for the tests.
//
// [New] is the default backend ([Native]), written over
// golang.org/x/sys/unix alone: io_uring_setup, io_uring_enter and
// io_uring_register as raw syscalls, the rings mapped with mmap, the
// kernel's structures declared here with their sizes asserted at compile
// time. The build tag giouring adds a second backend over
// github.com/pawelgaczynski/giouring (NewGiouring); it is kept out of the
// default build because giouring links into the standard library with
// a go:linkname that Go 1.23 and later refuse. The conformance suite in
// package ringtest runs against both.
//
// A ring needs Linux 5.6 for the operations it prepares, 5.11 for Wait
// with a timeout, 5.19 for CancelFD, 6.0 for SEND_ZC. New's error says
// whether this process may set up a ring at all (the kernel may lack
// io_uring, disable it with kernel.io_uring_disabled, or a seccomp filter
// may refuse it); [Ring.Probe] says which operations it supports.
//
// The package builds on every system; off Linux, [New] and [ReadDisabled]
// fail with an error wrapping errors.ErrUnsupported.
//
// Memory handed to a request belongs to the kernel until the request's
// completion is reaped (for SEND_ZC, its notification): see [Ring].
package ring
