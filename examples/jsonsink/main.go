//go:build wasip1

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/roadrunner-wasm/roadrunner/guest"
	"github.com/roadrunner-wasm/roadrunner/internal/bench/payload"
)

type message struct {
	Data []byte `json:"data"`
}

type verdict struct {
	OK       bool   `json:"ok"`
	Seq      uint64 `json:"seq"`
	VerifyNS int64  `json:"verify_ns"`
	Error    string `json:"error,omitempty"`
}

var (
	lastSeq uint64
	anySeq  bool
)

func init() {
	guest.Handle(func(p []byte) error {
		var m message
		var v verdict
		err := json.Unmarshal(p, &m)
		if err != nil {
			err = fmt.Errorf("decode: %w", err)
		} else {
			t0 := time.Now()
			v.Seq, err = payload.Check(m.Data)
			if err == nil && anySeq && v.Seq <= lastSeq {
				err = fmt.Errorf("seq %d after seq %d: a payload delivered twice or out of order", v.Seq, lastSeq)
			}
			v.VerifyNS = int64(time.Since(t0))
		}
		m.Data = nil
		if err == nil {
			v.OK = true
			lastSeq, anySeq = v.Seq, true
		} else {
			v.Error = err.Error()
		}
		out, merr := json.Marshal(v)
		if merr != nil {
			return merr
		}
		if rerr := guest.Reply(out); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	})
}

func main() {}
