//go:build wasip1

package main

import (
	"fmt"

	"github.com/roadrunner-wasm/roadrunner/examples/pipeline/msg"
	"github.com/roadrunner-wasm/roadrunner/guest"
)

func init() {
	guest.Handle(func(payload []byte) error {
		h, body, err := msg.Decode(payload)
		if err != nil {
			return fmt.Errorf("transform: %w", err)
		}
		if err := msg.Verify(h, body); err != nil {
			return fmt.Errorf("transform: %w", err)
		}
		msg.Scramble(h.CRC, body)
		h.Flags |= msg.FlagTransformed
		h.Hops++
		h.Put(payload)
		// payload is the SDK's receive buffer, valid until this handler
		// returns; Send reads it in place before returning.
		return guest.Send("consumer", payload)
	})
}

func main() {}
