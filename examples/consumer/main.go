//go:build wasip1

package main

import (
	"errors"

	"github.com/roadrunner-wasm/roadrunner/examples/pipeline/msg"
	"github.com/roadrunner-wasm/roadrunner/guest"
)

var out []byte // the reply, reused across calls

func init() {
	guest.Handle(func(payload []byte) error {
		r := check(payload)
		out = r.AppendJSON(out[:0])
		return guest.Reply(out)
	})
}

var errNotTransformed = errors.New("message not transformed")

// check restores the body of m in place and reports whether it matches the
// producer's checksum.
func check(m []byte) msg.Report {
	r := msg.Report{Function: "consumer", Bytes: uint64(max(len(m)-msg.HeaderSize, 0))}
	h, body, err := msg.Decode(m)
	r.Hops = int(h.Hops)
	if err == nil && h.Flags&msg.FlagTransformed == 0 {
		err = errNotTransformed
	}
	if err != nil {
		r.CRC32C = msg.FormatCRC(msg.Checksum(m[min(len(m), msg.HeaderSize):]))
		r.Reason = err.Error()
		return r
	}
	msg.Scramble(h.CRC, body)
	crc := msg.Checksum(body)
	r.CRC32C = msg.FormatCRC(crc)
	if crc != h.CRC {
		r.Reason = "restored body has crc32c " + r.CRC32C + ", header says " + msg.FormatCRC(h.CRC)
		return r
	}
	r.Verified = true
	return r
}

func main() {}
