//go:build linux

package features

import (
	"errors"
	"syscall"

	"github.com/roadrunner-wasm/roadrunner/bpf"
)

// probeSockmap loads the program and maps unpinned and redirects a byte
// (bpf.Probe), naming the errno of a refusal, and on EPERM or EACCES the
// capabilities this process lacks (a CapabilityError).
func probeSockmap() error {
	err := withErrnoName(bpf.Probe())
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
		if missing := missingCaps(); len(missing) > 0 {
			return &CapabilityError{Missing: missing, Needs: "CAP_BPF and CAP_NET_ADMIN, and CAP_SYS_ADMIN where bpffs is not mounted at /sys/fs/bpf", Err: err}
		}
	}
	return err
}
