package transport

import (
	"errors"
	"os"
)

// The shm path: between nodes of one host, over a unix connection whose
// ends authenticated each other, the receiver hands the sender the file
// its function's memory lies in, and the sender copies the payload
// straight into it (docs/PROTOCOL.md "Shared memory"). One copy, against
// the unix path's two.

// SharedMemory is a receiver's memory as a file a sender of this host may
// map: a memfd sealed against shrinking.
type SharedMemory interface {
	// File is the memfd. It stays open while the receiver exists.
	File() *os.File
	// Offset returns where view's first byte lies in the file; ok is
	// false if view is empty or does not lie in the file whole.
	Offset(view []byte) (off uint64, ok bool)
}

// SharedSink is a Sink whose receivers' memories may be shared. A Server
// with [ServerOptions].SharedMemory offers the shm path only if its Sink
// is one.
type SharedSink interface {
	Sink
	// SharedMemory returns the memory file of the receiver named to, or
	// an error saying why it has none: wrapping [ErrNotShared] if it was
	// not asked for or its engine cannot share, anything else if the
	// system refused the file. The payload then comes over the stream.
	SharedMemory(to string) (SharedMemory, error)
}

// ErrNotShared says a receiver's memory is not in a shared file: it was
// not asked for, or its engine cannot place it there.
var ErrNotShared = errors.New("the receiver's memory is not shared")

// DefaultSharedMin is the smallest payload the shm path carries unless
// [DialOptions].SharedMin says otherwise: below it, the offer's extra
// round trip costs more than the stream's second copy (docs/BENCHMARKS.md
// "Shared memory").
const DefaultSharedMin = 64 << 10

// DefaultMaxSharedMap is the largest memory file a sender maps unless
// [DialOptions].MaxSharedMap says otherwise: address space, not memory
// (the file's pages are the receiver's).
const DefaultMaxSharedMap = 1 << 40

// Reasons the shm path falls back to the stream, as [DialOptions].OnFallback
// and [ServerOptions].OnFallback report them ("shm" to "plain").
const (
	ShmUnauthenticated = "unauthenticated" // the nodes do not authenticate each other (node.auth.keys)
	ShmOtherHost       = "other_host"      // the peer is on another host
	ShmTCP             = "tcp"             // a peer of this host reached over tcp (no unix socket to pass a file over)
	ShmPeer            = "peer"            // the listener does not offer the shm path (off, or an older node)
	ShmSeals           = "seals"           // the file the receiver handed over is not a sealed memfd
	ShmMap             = "map"             // mapping the receiver's file failed
	ShmFault           = "fault"           // the copy into the receiver's file faulted
	// and, said by the receiver: "not_shared", "memfd", "outside"
	// (wire.ShmReasonName).
)
