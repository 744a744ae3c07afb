//go:build !linux

package runtimetest

import "testing"

// RunShared skips: the memfds that shared memory needs exist only on Linux.
func RunShared(t *testing.T, _ NewEngine) {
	t.Skip("shared memory needs Linux (memfd)")
}
