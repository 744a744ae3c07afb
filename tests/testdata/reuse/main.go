//go:build wasip1

// Command reuse is the sending guest of the buffer-reuse test. Its payload
// is a command, "run N SEED NAME": it sends N payloads of the mixed sizes of
// tests/testdata/pattern to the function NAME, all from one buffer, and
// overwrites that buffer the moment each Send returns, so that a host that
// still read the buffer after Send returned would deliver wrong bytes. It
// replies "ok N BYTES" after N transfers, or "fail I CODE" at the first
// failed Send (CODE is its ABI code) and stops there.
package main

import (
	"errors"
	"strconv"
	"strings"

	"github.com/roadrunner-wasm/roadrunner/guest"
	"github.com/roadrunner-wasm/roadrunner/tests/testdata/pattern"
)

var buf []byte // every payload is a prefix of it

func init() { guest.Handle(run) }

func main() {}

func run(payload []byte) error {
	f := strings.Fields(string(payload))
	if len(f) != 4 || f[0] != "run" {
		return errors.New("reuse: want run N SEED NAME")
	}
	n, err := strconv.Atoi(f[1])
	if err != nil {
		return errors.New("reuse: N: " + err.Error())
	}
	seed, err := strconv.ParseUint(f[2], 10, 32)
	if err != nil {
		return errors.New("reuse: SEED: " + err.Error())
	}
	if buf == nil {
		buf = make([]byte, pattern.MaxSize)
	}
	var total uint64
	for i := range n {
		b := buf[:pattern.Size(i)]
		pattern.Fill(b, uint32(seed), i)
		err := guest.Send(f[3], b)
		pattern.Invert(b)
		if err != nil {
			var code guest.Error
			errors.As(err, &code)
			return guest.Reply([]byte("fail " + strconv.Itoa(i) + " " + strconv.Itoa(int(code))))
		}
		total += uint64(len(b))
	}
	return guest.Reply([]byte("ok " + strconv.Itoa(n) + " " + strconv.FormatUint(total, 10)))
}
