package guests

import (
	"bytes"
	"compress/gzip"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

//go:generate go run ./generate

// ext is the suffix of an embedded guest's file.
const ext = ".wasm.gz"

//go:embed *.wasm.gz
var files embed.FS

// Source is the import path of the package the guest name is built from.
func Source(name string) string {
	return "github.com/roadrunner-wasm/roadrunner/examples/" + name
}

// File is the name of the file that holds the guest name, compressed.
func File(name string) string { return name + ext }

// Names are the guests this build embeds, sorted.
func Names() []string {
	ents, err := fs.ReadDir(files, ".")
	if err != nil {
		panic(err) // an embed.FS's root always reads
	}
	var out []string
	for _, e := range ents {
		if name, ok := strings.CutSuffix(e.Name(), ext); ok {
			out = append(out, name)
		}
	}
	return out
}

// Module returns the guest name's module, decompressed (a fresh copy).
func Module(name string) ([]byte, error) {
	z, err := files.ReadFile(File(name))
	if err != nil {
		return nil, fmt.Errorf("guest %s: not embedded in this build (it embeds %s; go generate ./internal/bench/guests makes them)", name, strings.Join(Names(), ", "))
	}
	r, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, fmt.Errorf("guest %s: %w", name, err)
	}
	m, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("guest %s: %w", name, err)
	}
	return m, nil
}

// WriteDir writes <name>.wasm into dir for each of names: the directory
// rrnode bench's nodes load their functions from. It writes nothing if a
// name is not embedded.
func WriteDir(dir string, names []string) error {
	have := Names()
	var missing []string
	for _, n := range names {
		if !slices.Contains(have, n) {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("this build embeds no guest %s (it embeds %s): regenerate them (go generate ./internal/bench/guests) and rebuild, or pass --wasm-dir",
			strings.Join(missing, ", "), strings.Join(have, ", "))
	}
	for _, n := range names {
		m, err := Module(n)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, n+".wasm"), m, 0o644); err != nil {
			return err
		}
	}
	return nil
}
