package ociwasm

import (
	"bytes"
	"encoding/json"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Media types of the CNCF Wasm OCI artifact layout (TAG Runtime's
// wasm-oci-artifact): the config of a Wasm artifact and its one layer.
const (
	ConfigMediaType = "application/vnd.wasm.config.v0+json"
	LayerMediaType  = "application/wasm"
)

// MaxModuleSize bounds the layer Pull takes: checked against the
// manifest's descriptor before fetching, and while reading.
const MaxModuleSize = 512 << 20

// maxManifestSize bounds a manifest (the distribution spec's registries
// accept 4 MiB).
const maxManifestSize = 4 << 20

const (
	dockerManifestMediaType = "application/vnd.docker.distribution.manifest.v2+json"
	dockerListMediaType     = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// checkModule reports ErrNotModule unless b starts as a core Wasm module
// (the magic "\0asm" and version 1).
func checkModule(b []byte) error {
	switch {
	case len(b) < 8 || !bytes.Equal(b[:4], []byte("\x00asm")):
		return fmt.Errorf("%w: no Wasm magic (\\0asm) at its start", ErrNotModule)
	case bytes.Equal(b[4:8], []byte{1, 0, 0, 0}):
		return nil
	case b[6] != 0 || b[7] != 0: // the layer field of the component model
		return fmt.Errorf("%w: a component (layer %d), not a core module", ErrNotModule, int(b[6])|int(b[7])<<8)
	default:
		return fmt.Errorf("%w: Wasm binary version %d, want 1", ErrNotModule, int(b[4])|int(b[5])<<8)
	}
}

// moduleLayer returns the one layer of the image manifest b. contentType
// is the registry's Content-Type ("" for a cached manifest); the manifest's
// own mediaType field takes precedence.
func moduleLayer(b []byte, contentType string) (ocispec.Descriptor, error) {
	var m struct {
		ocispec.Manifest
		Manifests json.RawMessage `json:"manifests"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("%w: manifest is not JSON: %w", ErrNotModule, err)
	}
	mt := m.MediaType
	if mt == "" {
		mt = contentType
	}
	if mt == "" && m.Manifests == nil {
		mt = ocispec.MediaTypeImageManifest
	}
	switch {
	case mt == ocispec.MediaTypeImageIndex || mt == dockerListMediaType || m.Manifests != nil:
		return ocispec.Descriptor{}, fmt.Errorf("%w: an index (%s) lists several manifests: pin the digest of the one to run", ErrNotModule, mt)
	case mt != ocispec.MediaTypeImageManifest && mt != dockerManifestMediaType:
		return ocispec.Descriptor{}, fmt.Errorf("%w: manifest media type %q: want %s or %s", ErrNotModule, mt, ocispec.MediaTypeImageManifest, dockerManifestMediaType)
	case len(m.Layers) != 1:
		return ocispec.Descriptor{}, fmt.Errorf("%w: the manifest has %d layers: want exactly one, the Wasm module", ErrNotModule, len(m.Layers))
	}
	l := m.Layers[0]
	switch {
	case !validDigest(string(l.Digest)):
		return ocispec.Descriptor{}, fmt.Errorf("%w: layer digest %q: want sha256", ErrNotModule, l.Digest)
	case l.Size > MaxModuleSize:
		return ocispec.Descriptor{}, fmt.Errorf("%w: layer of %d bytes, more than the %d MiB limit", ErrNotModule, l.Size, MaxModuleSize>>20)
	case l.Size < 8:
		return ocispec.Descriptor{}, fmt.Errorf("%w: layer of %d bytes, too small for a Wasm module", ErrNotModule, l.Size)
	}
	return l, nil
}
