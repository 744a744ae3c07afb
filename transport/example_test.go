package transport_test

import (
	"context"
	"fmt"
	"log"
	"sync"

	"github.com/roadrunner-wasm/roadrunner/transport"
)

// receivers is a Sink whose receivers are Go byte buffers, one per name,
// reused for every payload. A Wasm runtime's Sink has the same shape: it
// asks an instance of the function named to for n bytes (rr_alloc), lends
// fill a view of that range of its linear memory, then calls rr_handle.
type receivers struct {
	mu   sync.Mutex // Memory is safe for concurrent use if its Sink is
	bufs map[string][]byte
}

func (r *receivers) Deliver(ctx context.Context, from *transport.Origin, to string, n uint64, fill func(dst []byte) error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	buf, ok := r.bufs[to]
	if !ok {
		return fmt.Errorf("no receiver %q", to)
	}
	// Check what can be checked before lending memory: a refused payload
	// costs the receiver nothing, and fill is not called.
	if n > uint64(len(buf)) {
		return fmt.Errorf("%d bytes is more than %s takes", n, to)
	}
	view := buf[:n:n] // capped: an append cannot spill into the rest
	if err := fill(view); err != nil {
		return err // nothing reached the receiver
	}
	// The payload is in place: here a runtime would call rr_handle.
	fmt.Printf("%s received %q over %s (%s)\n", to, view, from.Path, from.Mechanism)
	return nil
}

// The memory path moves a payload between two receivers of one process: one
// copy, from the sender's slice straight into the view the Sink lends.
func ExampleMemory() {
	sink := &receivers{bufs: map[string][]byte{"upper": make([]byte, 16)}}
	mem := &transport.Memory{Sink: sink}
	ctx := context.Background()

	payload := []byte("hello")
	landed, err := mem.Send(ctx, "upper", payload)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("landed:", landed > 0)

	// Send has returned: the receiver has its own copy, and the sender may
	// reuse its buffer at once.
	copy(payload, "HELLO")
	fmt.Printf("upper still holds %q\n", sink.bufs["upper"][:len(payload)])

	// Refusals come back as the Sink's errors, and nothing lands.
	_, err = mem.Send(ctx, "lower", payload)
	fmt.Println(err)
	_, err = mem.Send(ctx, "upper", make([]byte, 17))
	fmt.Println(err)

	// Output:
	// upper received "hello" over memory (copy)
	// landed: true
	// upper still holds "hello"
	// no receiver "lower"
	// 17 bytes is more than upper takes
}
