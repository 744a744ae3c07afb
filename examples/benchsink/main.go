//go:build wasip1

package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/roadrunner-wasm/roadrunner/guest"
	"github.com/roadrunner-wasm/roadrunner/internal/bench/payload"
)

// ReportCommand asks for the records.
const reportCommand = "RRBR"

type report struct {
	Seq      []uint64 `json:"seq"`
	VerifyNS []int64  `json:"verify_ns"`
	Failed   int      `json:"failed"`
	Error    string   `json:"error"` // the first failure's
}

var (
	rec     report
	lastSeq uint64
	anySeq  bool
)

func init() {
	guest.Handle(func(p []byte) error {
		if string(p) == reportCommand {
			out, err := json.Marshal(rec)
			if err != nil {
				return err
			}
			rec = report{Seq: rec.Seq[:0], VerifyNS: rec.VerifyNS[:0]}
			return guest.Reply(out)
		}
		t0 := time.Now()
		seq, err := payload.Check(p)
		if err == nil && anySeq && seq <= lastSeq {
			err = fmt.Errorf("seq %d after seq %d: a payload delivered twice or out of order", seq, lastSeq)
		}
		payload.Clear(p)
		d := time.Since(t0)
		if err != nil {
			rec.Failed++
			if rec.Error == "" {
				rec.Error = err.Error()
			}
			return err
		}
		lastSeq, anySeq = seq, true
		rec.Seq = append(rec.Seq, seq)
		rec.VerifyNS = append(rec.VerifyNS, int64(d))
		return nil
	})
}

func main() {}
