package abi

// Version is the version of the guest ABI this package describes.
const Version = 1

// Names of the guest's exports and of the host's import module.
const (
	ExportMemory = "memory"
	ExportAlloc  = "rr_alloc"  // (len i32) -> i32: give the host len writable bytes; 0 = cannot
	ExportHandle = "rr_handle" // (ptr i32, len i32) -> i32: a payload arrived; 0 = accepted
	ExportInit   = "_initialize"

	ImportModule = "roadrunner"
	ImportSend   = "send"  // (name_ptr, name_len, data_ptr, data_len i32) -> i32
	ImportReply  = "reply" // (data_ptr, data_len i32) -> i32
)
