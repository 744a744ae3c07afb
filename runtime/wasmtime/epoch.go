//go:build wasmtime

package wasmtime

// #include "epoch.h"
import "C"

import (
	"errors"
	"runtime"
	"runtime/cgo"
	"unsafe"

	wt "github.com/bytecodealliance/wasmtime-go/v35"
)

var errStoreLayout = errors.New("cannot register the epoch deadline callback: wasmtime.Store's layout is not the one this package was written for (wasmtime-go v35)")

// setEpochCallback registers the deadline callback of store, with h, a
// handle of its *instance, as data. wasmtime.Store keeps its
// *wasmtime_store_t in its first, unexported field; the pointer read there is
// checked against Store.Context before use.
func setEpochCallback(store *wt.Store, h cgo.Handle) error {
	ptr := *(*unsafe.Pointer)(unsafe.Pointer(store))
	if ptr == nil || C.wasmtime_store_context(ptr) != unsafe.Pointer(store.Context()) {
		return errStoreLayout
	}
	C.rr_set_epoch_callback(ptr, C.uintptr_t(h))
	runtime.KeepAlive(store)
	return nil
}

// rrEpochExpired is called by the deadline callback, on the goroutine that
// called into the guest, each time the engine's epoch passes the store's
// deadline. It reports whether the call in progress must end.
//
//export rrEpochExpired
func rrEpochExpired(h C.uintptr_t) C.int {
	i, ok := cgo.Handle(h).Value().(*instance)
	if !ok || i.ctx == nil || i.ctx.Err() != nil {
		return 1
	}
	return 0
}
