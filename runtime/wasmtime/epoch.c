//go:build wasmtime

// The epoch deadline callback of every interruptible store. wasmtime-go does
// not wrap wasmtime_store_epoch_deadline_callback, so it is declared here,
// from wasmtime/store.h of the Wasmtime version wasmtime-go v35 bundles; the
// symbols come from the libwasmtime.a that wasmtime-go links.

#include <stdint.h>
#include "epoch.h"

typedef struct wasmtime_context wasmtime_context_t;
typedef struct wasmtime_error wasmtime_error_t;
typedef uint8_t wasmtime_update_deadline_kind_t;

extern void wasmtime_store_epoch_deadline_callback(
	void *store,
	wasmtime_error_t *(*func)(wasmtime_context_t *, void *, uint64_t *, wasmtime_update_deadline_kind_t *),
	void *data, void (*finalizer)(void *));
extern wasmtime_error_t *wasmtime_error_new(const char *);

// Exported by epoch.go.
extern int rrEpochExpired(uintptr_t);

static wasmtime_error_t *rr_epoch_callback(wasmtime_context_t *ctx, void *data, uint64_t *delta, wasmtime_update_deadline_kind_t *kind) {
	(void)ctx;
	if (rrEpochExpired((uintptr_t)data)) {
		return wasmtime_error_new("interrupted: the context of the call ended");
	}
	*delta = 1;
	*kind = 0; // WASMTIME_UPDATE_DEADLINE_CONTINUE
	return 0;
}

void rr_set_epoch_callback(void *store, uintptr_t handle) {
	wasmtime_store_epoch_deadline_callback(store, rr_epoch_callback, (void *)handle, 0);
}
