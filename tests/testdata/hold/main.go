//go:build wasip1

// Command hold is a receiving guest that keeps its payload's sender
// waiting: the payload's first line is a number of milliseconds, the rest
// any bytes. It writes "hold: N bytes, holding MS ms" to standard error
// (the node logs it), sleeps that long, then returns.
package main

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"time"

	"github.com/roadrunner-wasm/roadrunner/guest"
)

func init() {
	guest.Handle(func(payload []byte) error {
		line, _, _ := bytes.Cut(payload, []byte("\n"))
		ms, err := strconv.Atoi(string(line))
		if err != nil {
			return errors.New("hold: first line: " + err.Error())
		}
		os.Stderr.WriteString("hold: " + strconv.Itoa(len(payload)) + " bytes, holding " + strconv.Itoa(ms) + " ms\n")
		time.Sleep(time.Duration(ms) * time.Millisecond)
		return nil
	})
}

func main() {}
