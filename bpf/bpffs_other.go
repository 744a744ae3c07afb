//go:build !linux

package bpf

import "fmt"

func ensureBPFFS(dir string) error {
	return fmt.Errorf("bpf: %w: sockmaps need Linux", ErrNotSupported)
}

func lockDir(dir string) (func(), error) {
	return nil, fmt.Errorf("bpf: %w: sockmaps need Linux", ErrNotSupported)
}
