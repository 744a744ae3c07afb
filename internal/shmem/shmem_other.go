//go:build !linux

package shmem

import "os"

const (
	sealShrink = 0x2
	sealGrow   = 0x4
	sealSeal   = 0x1
)

// Create fails with ErrNotSupported.
func Create(name string, size int64) (*os.File, error) { return nil, ErrNotSupported }

// Check fails with ErrNotSupported.
func Check(fd int) (int64, error) { return 0, ErrNotSupported }

// Map fails with ErrNotSupported.
func Map(fd int, size int64) ([]byte, error) { return nil, ErrNotSupported }

// Unmap fails with ErrNotSupported.
func Unmap(b []byte) error { return ErrNotSupported }

// Probe fails with ErrNotSupported.
func Probe() error { return ErrNotSupported }
