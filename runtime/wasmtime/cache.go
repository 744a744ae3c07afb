//go:build wasmtime

package wasmtime

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	wt "github.com/bytecodealliance/wasmtime-go/v35"
)

// compile returns wasm compiled by eng, through the disk cache in dir if dir
// is not empty. A cache entry is named by the SHA-256 of the module, the
// wasmtime-go version and whether eng has epoch checks; it is written to a
// temporary file and renamed, so a concurrent reader never sees half of one.
// An entry that does not deserialize (another Wasmtime, a torn file) is
// compiled again and replaced. The directory must be trusted: Wasmtime runs
// deserialized code as is.
func compile(eng *wt.Engine, wasm []byte, dir string, epoch bool) (*wt.Module, error) {
	if dir == "" {
		return wt.NewModule(eng, wasm)
	}
	h := sha256.New()
	fmt.Fprintf(h, "roadrunner wasmtime %s epoch=%t\x00", Version(), epoch)
	h.Write(wasm)
	path := filepath.Join(dir, hex.EncodeToString(h.Sum(nil))+".cwasm")
	if data, err := os.ReadFile(path); err == nil {
		if m, err := wt.NewModuleDeserialize(eng, data); err == nil {
			return m, nil
		}
	}
	m, err := wt.NewModule(eng, wasm)
	if err != nil {
		return nil, err
	}
	// A cache that cannot be written costs a recompile next time, nothing
	// more: the module is returned either way.
	if data, err := m.Serialize(); err == nil {
		if tmp, err := os.CreateTemp(dir, ".tmp-*"); err == nil {
			_, werr := tmp.Write(data)
			cerr := tmp.Close()
			if werr != nil || cerr != nil || os.Rename(tmp.Name(), path) != nil {
				os.Remove(tmp.Name())
			}
		}
	}
	return m, nil
}
