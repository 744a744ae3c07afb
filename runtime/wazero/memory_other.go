//go:build !linux

package wazero

import (
	"errors"
	"os"

	"github.com/tetratelabs/wazero/experimental"
)

// Elsewhere than Linux, a memory lives on the Go heap (heapMemory) and
// nothing is shared.

type sharedFile struct{}

func reserve(*allocator, uint64) experimental.LinearMemory { return nil }

func newSharedFile(string, int, uint64) (*sharedFile, error) {
	return nil, errors.New("shared memory needs Linux")
}

func (s *sharedFile) allocate(*allocator, uint64) experimental.LinearMemory { return nil }
func (s *sharedFile) close() error                                          { return nil }
func (s *sharedFile) File() *os.File                                        { return nil }
func (s *sharedFile) Offset([]byte) (uint64, bool)                          { return 0, false }
