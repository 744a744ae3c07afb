package transport

import (
	"context"
	"io"
)

// Origin says where a delivery comes from. A Sink must not keep it past
// Deliver: the Server that made it reuses it for its connection's next
// frame.
type Origin struct {
	// Path is the path the payload took to the Sink: PathMemory for
	// [Memory], PathUnix or PathTCP for a [Server].
	Path Path
	// Reply is where the receiver's reply goes, nil if the sender takes
	// none: a [Server] sends its one Write back to the frame's sender as
	// a REPLY frame (a second Write fails).
	Reply io.Writer
	// Remote names the sending end of a Server's connection (its
	// address, or "unix-peer"); "" on the memory path.
	Remote string
	// Source names who is behind a Server's connection, for limits that
	// must be shared fairly: the peer's IP address on the tcp path
	// ("192.0.2.7", "2001:db8::7"), the uid and pid of its process when it
	// connected on the unix path (SO_PEERCRED: "uid:1000/pid:4242"; the
	// uid alone, "uid:1000", for a process in a pid namespace this one
	// does not see; "unix" where the credentials cannot be read). Connections of one source share
	// ServerOptions.MaxConnsPerSource. "" on the memory path.
	Source string
	// Mechanism is what carried the payload into the view, set once fill
	// has returned nil: MechanismCopy on the memory path, MechanismRead or
	// MechanismIOURing on a Server's.
	Mechanism Mechanism
	// Depth is how many hops the payload's chain made before it reached
	// this node, as its sender said (SendOptions.Depth); 0 if it did not.
	Depth uint32
	// Hops, if not nil, takes what the receiving node reports of the hops
	// it made for this delivery, in at most one Write before Deliver
	// returns: the sender asked for them (SendOptions.Hops). It goes back
	// with the ACK; a delivery that made none need not write.
	Hops io.Writer
	// Trace is the trace context the frame carried (SendOptions.Trace,
	// from a sender whose connection negotiated it: ServerOptions.Trace);
	// the zero TraceContext if none.
	Trace TraceContext
}

// Sink is where payloads land. node implements it over runtime.Function.
type Sink interface {
	// Deliver finds the receiver named to, asks it for n bytes and calls
	// fill exactly once with a view of them (len(dst) == n; an empty view
	// when n is 0). The view is not a copy and is valid only inside fill.
	// Once fill has returned nil, Deliver hands the payload to the receiver
	// and returns after the receiver has handled it. If fill returns an
	// error, nothing reaches the receiver and Deliver returns that error.
	//
	// Deliver checks what it can before asking the receiver for memory (the
	// name, n against the receiver's limit): a payload refused there never
	// costs the receiver an allocation, and fill is not called.
	//
	// from says where the payload comes from and where a reply goes; it is
	// valid until Deliver returns.
	Deliver(ctx context.Context, from *Origin, to string, n uint64, fill func(dst []byte) error) error
}
