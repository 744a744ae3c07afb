package transport

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Memory is the memory path: it delivers a payload to a receiver in the same
// process with one copy, from the sender's view straight into the view the
// Sink lends. A Memory is safe for concurrent use if its Sink is.
type Memory struct {
	Sink Sink
}

// memoryOrigin is the Origin of every delivery of the memory path: it is
// never written, so one serves every Memory.
var memoryOrigin = Origin{Path: PathMemory, Mechanism: MechanismCopy}

// Send delivers payload to the receiver named to and returns after the
// receiver has handled it. payload may be a view of another guest's memory:
// Send reads it only until it returns and never retains it.
//
// landed is the time from Send's start until the payload sat in the
// receiver's memory: the Sink's lookup and checks, the receiver's
// allocation, and the copy. It is zero if the payload never landed.
//
// Send does not allocate.
func (m *Memory) Send(ctx context.Context, to string, payload []byte) (landed time.Duration, err error) {
	f := fillers.Get().(*filler)
	f.src = payload
	f.start = time.Now()
	f.origin = memoryOrigin
	err = m.Sink.Deliver(ctx, &f.origin, to, uint64(len(payload)), f.fill)
	landed = f.landed
	*f = filler{fill: f.fill}
	fillers.Put(f)
	return landed, err
}

// filler carries one Send's payload to the Sink's fill callback. Its fill
// field is the method value f.copyInto, bound once when the filler is made:
// a closure made per Send would escape through the Sink interface and
// allocate every time.
type filler struct {
	origin Origin // a copy of memoryOrigin: the Sink gets a pointer it may not keep
	src    []byte
	start  time.Time
	landed time.Duration
	fill   func(dst []byte) error
}

var fillers = sync.Pool{New: func() any {
	f := &filler{}
	f.fill = f.copyInto
	return f
}}

var errSize = errors.New("memory path: receiver's buffer does not match the payload's length")

func (f *filler) copyInto(dst []byte) error {
	if len(dst) != len(f.src) {
		return errSize
	}
	copy(dst, f.src)
	f.landed = time.Since(f.start)
	if f.landed <= 0 {
		f.landed = 1 // landed, however coarse the clock: zero means it did not
	}
	return nil
}
