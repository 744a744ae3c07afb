package transport

import (
	"errors"
	"fmt"

	"github.com/roadrunner-wasm/roadrunner/transport/features"
)

// The io_uring accelerator's options and reporting, on both sides of a
// connection. The ring's requests are in connring_linux.go, the sending
// side in send_ring_linux.go.

// Defaults of the io_uring accelerator ([DialOptions].IOURing,
// [ServerOptions].IOURing), chosen by measurement (docs/BENCHMARKS.md).
const (
	// DefaultRingChunk is the payload bytes of one SEND or RECV request.
	DefaultRingChunk = 1 << 20
	// DefaultRingDepth is how many chunk requests are linked and in
	// flight at once.
	DefaultRingDepth = 8
	// DefaultZeroCopyMin is the smallest payload sent with SEND_ZC when
	// zero copy is on.
	DefaultZeroCopyMin = 1 << 20
	// DefaultRingMin is the smallest payload a connection with a ring
	// moves through it; smaller ones go with plain syscalls, which were
	// measured faster for them (docs/BENCHMARKS.md).
	DefaultRingMin = 4 << 20
)

// ringEntries is the SQ size of a connection's ring: a batch of
// DefaultRingDepth chunks, the header and the ACK's RECV fit with room.
const ringEntries = 32

// maxRingDepth bounds the depth a caller may set: the batch, its header
// send and the ACK's RECV must fit the SQ.
const maxRingDepth = ringEntries - 2

// ringShape checks and defaults a ring's chunk and depth.
func ringShape(chunk, depth *int) error {
	if *chunk <= 0 {
		*chunk = DefaultRingChunk
	}
	if *depth <= 0 {
		*depth = DefaultRingDepth
	}
	if *depth > maxRingDepth {
		return fmt.Errorf("io_uring depth %d: at most %d", *depth, maxRingDepth)
	}
	return nil
}

func (o *DialOptions) ringDefaults() error {
	if o.ZeroCopyMin <= 0 {
		o.ZeroCopyMin = DefaultZeroCopyMin
	}
	if o.RingMin <= 0 {
		o.RingMin = DefaultRingMin
	}
	return ringShape(&o.RingChunk, &o.RingDepth)
}

// ringFellBack reports one transfer that was meant to use io_uring and used
// plain syscalls.
func ringFellBack(onFallback func(from, to, reason string), err error) {
	if onFallback != nil {
		reason := features.Reason(err)
		if errors.Is(err, errTLS) {
			reason = FallbackTLS
		}
		onFallback(AccelIOURing.String(), "plain", reason)
	}
}
