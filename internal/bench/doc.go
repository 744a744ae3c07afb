// Package bench is rrnode bench: the harness that reproduces the Roadrunner
// paper's evaluation on this machine, for every path of this project, side
// by side with the baselines the paper compares against.
//
// [Run] moves payloads of each size in [Options.Sizes] between two
// functions over each path in [Options.Paths]:
//
//   - memory, unix, tcp, unix+iouring, tcp+iouring, tcp+sockmap: the guests
//     examples/benchsrc and examples/benchsink, hosted by rrnode processes
//     (one node for memory; for the others a sending node and a receiving
//     node started with --accel none, iouring or sockmap and --strict-accel,
//     connected over a unix socket or loopback TCP). benchsrc times each
//     send on its own clock, so the HTTP invocation that starts a batch is
//     not counted.
//   - http-raw: what a WebAssembly platform gives functions today to
//     pass raw bytes without serialization (wasi-http, Spin's service
//     chaining). Two guests, examples/rawsrc and examples/rawsink, in two
//     agent processes that embed wazero whatever the engine (rawhttp.go).
//     rawsrc calls its host's post import with the (ptr, len) of its
//     payload, bounds-checked like every (ptr, len) of a guest; the host's
//     HTTP client streams the body out of guest memory, a copy of at most
//     64 KiB at a time, over HTTP/1.1 on loopback. The receiving host reads the body
//     into its own 64 KiB buffer, and rawsink reads it from there through
//     a stream-style import, body_read(ptr, len) -> n, called until it
//     returns 0, as a wasi-http input-stream; then it verifies. Time =
//     host call + HTTP + the chunked copies into the receiving guest.
//   - http-json: examples/jsonsrc encodes the payload as {"data":"<base64>"}
//     in its memory; the host that runs it (an rrnode bench agent process,
//     with the node package in-process) posts that JSON, straight from guest
//     memory, over HTTP/1.1 on loopback to an rrnode process whose
//     examples/jsonsink decodes it. Time = encode + HTTP + decode. The
//     paper's baseline.
//   - native-http: the payload's raw bytes POSTed between two native Go
//     processes; the receiver reads the body into a buffer it reuses.
//   - native-http-json: the same as JSON, {"data":"<base64>"}, encoded and
//     decoded in the native processes.
//   - memcpy: one Go copy into a reused, already-touched buffer.
//   - socket-unix, socket-tcp: a plain Go socket loop between two processes,
//     1 MiB writes and reads into a reused buffer.
//
// Every delivery is verified by its receiver (internal/bench/payload:
// a 64-bit checksum of the body against the header, then the buffer is zeroed). The
// receiver times its verification and the harness subtracts it from the
// transfer's latency and from the receiver's CPU: a transfer is over when
// the payload is in the receiver's memory and acknowledged, not when the
// receiver has finished checking it. A verification failure fails the run.
//
// Start-up (processes, module compilation) is excluded from the transfers
// and reported separately: per path, the time its processes took to become
// ready, and per engine compiled in, the cold and cached load of a module.
// Within each repetition the paths run one after the other, in an order
// rotated every repetition, so that drift of the machine hits all alike. CPU
// is read from each process's CPU-time clock (nanoseconds, not rusage
// ticks) around every batch; peak RSS is each process's VmHWM. Processes are
// started afresh for each size, so their peak RSS is that size's.
//
// [Result] writes itself as a long CSV (one row per size and path), a wide
// CSV in the paper's layout, a Markdown table, JSON, and plots (SVG and PNG,
// gonum.org/v1/plot).
package bench
