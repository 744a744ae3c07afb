//go:build wasip1

package main

import (
	"encoding/json"
	"fmt"

	"github.com/roadrunner-wasm/roadrunner/guest"
	"github.com/roadrunner-wasm/roadrunner/internal/bench/payload"
)

type command struct {
	Size int    `json:"size"`
	Seq  uint64 `json:"seq"`
}

// message is what crosses HTTP: encoding/json writes a []byte as base64.
type message struct {
	Data []byte `json:"data"`
}

var (
	buf []byte
	sum uint64
)

// replier hands the encoder's output to the host in one reply, from the
// encoder's own buffer: no copy beyond the encoding.
type replier struct{}

func (replier) Write(p []byte) (int, error) {
	if err := guest.Reply(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func init() {
	guest.Handle(func(p []byte) error {
		var c command
		if err := json.Unmarshal(p, &c); err != nil {
			return fmt.Errorf("jsonsrc: command: %w", err)
		}
		if c.Size < payload.MinSize {
			return fmt.Errorf("jsonsrc: bad command %s", p)
		}
		if len(buf) != c.Size {
			buf = nil
			buf = make([]byte, c.Size)
			sum = payload.Fill(buf)
		}
		payload.Stamp(buf, sum, c.Seq)
		return json.NewEncoder(replier{}).Encode(message{Data: buf})
	})
}

func main() {}
