//go:build !linux

package bpf

import "fmt"

func ensureBPFFS(dir string) error {
	return fmt.Errorf("bpf: %w: sockmaps need Linux", ErrNotSupported)
}

func lockDir(dir string, how int) (int, error) {
	return -1, fmt.Errorf("bpf: %w: sockmaps need Linux", ErrNotSupported)
}

func flock(fd, how int) error { return fmt.Errorf("bpf: %w: sockmaps need Linux", ErrNotSupported) }

func sameDir(fd int, path string) (bool, error) { return false, nil }
