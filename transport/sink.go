package transport

import "context"

// Names of the paths a payload can take, as metrics and traces spell them.
const (
	PathMemory = "memory" // same process: one copy from the sender's memory into the receiver's
	PathHTTP   = "http"   // HTTP ingress: the request body read into the receiver's memory
)

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
	Deliver(ctx context.Context, to string, n uint64, fill func(dst []byte) error) error
}
