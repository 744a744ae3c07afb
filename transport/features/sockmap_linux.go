//go:build linux

package features

import (
	"github.com/roadrunner-wasm/roadrunner/bpf"
)

// probeSockmap loads the program and maps unpinned and redirects a byte
// (bpf.Probe), naming the errno of a refusal.
func probeSockmap() error {
	return withErrnoName(bpf.Probe())
}
