//go:build wasip1

package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/roadrunner-wasm/roadrunner/guest"
	"github.com/roadrunner-wasm/roadrunner/internal/bench/payload"
)

type command struct {
	To    string `json:"to"`
	Size  int    `json:"size"`
	Count int    `json:"count"`
	Seq   uint64 `json:"seq"`
}

type report struct {
	SendNS []int64 `json:"send_ns"`
	Error  string  `json:"error,omitempty"`
}

var (
	buf []byte // the payload, kept between invocations
	sum uint64 // its body's checksum (payload.Sum)
)

func init() {
	guest.Handle(func(p []byte) error {
		var c command
		if err := json.Unmarshal(p, &c); err != nil {
			return fmt.Errorf("benchsrc: command: %w", err)
		}
		if c.Size < payload.MinSize || c.To == "" || c.Count < 0 {
			return fmt.Errorf("benchsrc: bad command %s", p)
		}
		if len(buf) != c.Size {
			buf = nil // let the old buffer go before the new one is made
			buf = make([]byte, c.Size)
			sum = payload.Fill(buf)
		}
		r := report{SendNS: make([]int64, 0, c.Count)}
		for i := range c.Count {
			payload.Stamp(buf, sum, c.Seq+uint64(i))
			t0 := time.Now()
			err := guest.Send(c.To, buf)
			d := time.Since(t0)
			if err != nil {
				r.Error = fmt.Sprintf("send seq %d to %s: %v", c.Seq+uint64(i), c.To, err)
				break
			}
			r.SendNS = append(r.SendNS, int64(d))
		}
		out, err := json.Marshal(r)
		if err != nil {
			return err
		}
		return guest.Reply(out)
	})
}

func main() {}
