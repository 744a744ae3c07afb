package wazero

// UseWazeroMemory makes functions loaded from now on use wazero's own
// memory allocator (or, with false, this package's again).
func UseWazeroMemory(on bool) { wazeroMemory = on }
