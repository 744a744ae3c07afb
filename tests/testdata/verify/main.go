//go:build wasip1

// Command verify is the receiving guest of the buffer-reuse test: it checks
// every payload against tests/testdata/pattern, regenerated from the
// payload's prefix, and fails (rr_handle returns 1, the sender's Send gets
// receiver_failed) on any wrong byte.
package main

import (
	"github.com/roadrunner-wasm/roadrunner/guest"
	"github.com/roadrunner-wasm/roadrunner/tests/testdata/pattern"
)

func init() {
	guest.Handle(func(payload []byte) error {
		_, _, err := pattern.Check(payload)
		return err
	})
}

func main() {}
