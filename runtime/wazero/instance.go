package wazero

import (
	"context"

	"github.com/tetratelabs/wazero/api"
)

// instance is one module instance. It implements runtime.Instance.
type instance struct {
	mod    api.Module
	mem    api.Memory
	alloc  api.Function
	handle api.Function
	stack  [2]uint64 // reused for every call: CallWithStack does not allocate
}

// View implements runtime.Instance. api.Memory.Read checks the range in 64
// bits and returns a capped view of the current backing slice.
func (i *instance) View(ptr, n uint32) ([]byte, bool) {
	return i.mem.Read(ptr, n)
}

// Alloc implements runtime.Instance.
func (i *instance) Alloc(ctx context.Context, n uint32) (uint32, error) {
	i.stack[0] = api.EncodeU32(n)
	if err := i.alloc.CallWithStack(ctx, i.stack[:]); err != nil {
		return 0, err
	}
	return api.DecodeU32(i.stack[0]), nil
}

// Handle implements runtime.Instance.
func (i *instance) Handle(ctx context.Context, ptr, n uint32) (int32, error) {
	i.stack[0] = api.EncodeU32(ptr)
	i.stack[1] = api.EncodeU32(n)
	if err := i.handle.CallWithStack(ctx, i.stack[:]); err != nil {
		return 0, err
	}
	return api.DecodeI32(i.stack[0]), nil
}

// MemorySize implements runtime.Instance. Grow(0) returns the size in pages
// (Size is a uint32 of bytes, which a full 4 GiB memory overflows).
func (i *instance) MemorySize() uint64 {
	pages, _ := i.mem.Grow(0)
	return uint64(pages) << 16
}

// Close implements runtime.Instance.
func (i *instance) Close(ctx context.Context) error {
	return i.mod.Close(ctx)
}
