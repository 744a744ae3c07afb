#include <stdint.h>

void *wasmtime_store_context(void *store);
void rr_set_epoch_callback(void *store, uintptr_t handle);
