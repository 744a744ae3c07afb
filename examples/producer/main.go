//go:build wasip1

package main

import (
	"errors"

	"github.com/roadrunner-wasm/roadrunner/examples/pipeline/msg"
	"github.com/roadrunner-wasm/roadrunner/guest"
)

// buf holds the outgoing message between calls. Send returns only after the
// receiver is done with it, so the next call may overwrite it.
var buf []byte

var errTooLong = errors.New("producer: payload too long for a message")

func init() {
	guest.Handle(func(payload []byte) error {
		if uint64(len(payload)) > msg.MaxBody {
			return errTooLong // the node's limit is below 4 GiB, but not by much
		}
		buf = msg.Append(buf[:0], payload)
		return guest.Send("transform", buf)
	})
}

func main() {}
