//go:build linux

package features

import (
	"errors"
	"fmt"

	"github.com/roadrunner-wasm/roadrunner/bpf"
)

// probeSockmap loads the program and maps unpinned and redirects a byte
// (bpf.Probe), naming the errno of a refusal.
func probeSockmap() error {
	err := bpf.Probe()
	// Name the errno, as the other probes' reasons do: cilium/ebpf's
	// messages spell it out ("operation not permitted") but not its name.
	for _, errno := range refusalErrnos {
		if errors.Is(err, errno) {
			return fmt.Errorf("%w (%s)", err, errnoName(errno))
		}
	}
	return err
}
