// Package features tells which kernel features of the unix and tcp paths
// this process may use, as cilium/ebpf's features package does for BPF.
//
// Each feature is probed once, declared with its name and the Linux version
// that introduced it ([HaveSplice], [HaveIOURing], [HaveSockmap], …); a
// conclusive answer is cached: nil, or an *[UnsupportedFeatureError] that
// matches [ErrNotSupported] and wraps the errno of the refusal (a seccomp
// filter's EPERM or ENOSYS, kernel.io_uring_disabled's EPERM, a missing
// capability's EPERM). A transient failure (out of file descriptors, a
// timeout) is returned uncached. The transport tries a mechanism first and
// asks these probes only to explain a failure or to choose at start-up;
// [Probe] lists every answer as rrnode probe prints it.
//
// [Reason] and [IsRefusal] classify an error by its errno, as the fallback
// metrics of the node label it.
//
// Off Linux the package builds, and every feature but the memory path is
// unavailable, wrapping errors.ErrUnsupported.
package features
