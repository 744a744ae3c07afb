package ociwasm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Push publishes module, which must be a core Wasm module, at ref in the
// CNCF Wasm OCI artifact layout: an OCI image manifest whose config is of
// ConfigMediaType and whose one layer, of LayerMediaType, is module. The
// artifact is reproducible: the same bytes give the same manifest digest
// (the config's "created" is the Unix epoch, there are no annotations).
// A tagged reference is tagged; a reference pinned by digest is pushed by
// digest only, and refused unless the digest is the artifact's. It returns
// the manifest's digest. Blobs the repository has are not sent again.
func Push(ctx context.Context, ref string, module []byte, o *Options) (string, error) {
	if o == nil {
		o = &Options{}
	}
	r, err := ParseReference(ref)
	if err != nil {
		return "", err
	}
	if err := checkModule(module); err != nil {
		return "", fmt.Errorf("push %s: %w", r, err)
	}
	if len(module) > MaxModuleSize {
		return "", fmt.Errorf("push %s: %w: %d bytes, more than the %d MiB Pull takes", r, ErrNotModule, len(module), MaxModuleSize>>20)
	}
	a := pack(module)
	d := string(a.manifest.Digest)
	if r.Pinned() && r.Digest != d {
		return "", fmt.Errorf("push %s: %w: the artifact of this module has digest %s", r, ErrDigestMismatch, d)
	}
	s, err := o.open(r)
	if err != nil {
		return "", fmt.Errorf("push %s: %w", r, err)
	}
	defer s.close()
	if err := s.push(ctx, r, a); err != nil {
		return "", fmt.Errorf("push %s: %w", r, err)
	}
	return d, nil
}

// artifact is a module in the Wasm OCI layout: three blobs and their
// descriptors.
type artifact struct {
	config, layer, manifest          ocispec.Descriptor
	configJSON, module, manifestJSON []byte
}

// wasmConfig is the config of the Wasm OCI artifact layout. Created is
// required by some readers (the Rust oci-wasm crate); the epoch keeps the
// artifact reproducible, as SOURCE_DATE_EPOCH=0 does for builds.
type wasmConfig struct {
	Created      string   `json:"created"`
	Architecture string   `json:"architecture"`
	OS           string   `json:"os"`
	LayerDigests []string `json:"layerDigests"`
}

func pack(module []byte) artifact {
	a := artifact{module: module}
	a.layer = ocispec.Descriptor{MediaType: LayerMediaType, Digest: digest.FromBytes(module), Size: int64(len(module))}
	a.configJSON = mustJSON(wasmConfig{
		Created:      "1970-01-01T00:00:00Z",
		Architecture: "wasm",
		OS:           "wasip1",
		LayerDigests: []string{string(a.layer.Digest)},
	})
	a.config = ocispec.Descriptor{MediaType: ConfigMediaType, Digest: digest.FromBytes(a.configJSON), Size: int64(len(a.configJSON))}
	a.manifestJSON = mustJSON(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    a.config,
		Layers:    []ocispec.Descriptor{a.layer},
	})
	a.manifest = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(a.manifestJSON), Size: int64(len(a.manifestJSON))}
	return a
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // plain structs of strings
	}
	return b
}

func (s *session) push(ctx context.Context, r Reference, a artifact) error {
	for _, b := range []struct {
		desc    ocispec.Descriptor
		content []byte
		what    string
	}{{a.layer, a.module, "layer"}, {a.config, a.configJSON, "config"}} {
		have, err := s.repo.Blobs().Exists(ctx, b.desc)
		if err != nil {
			return fmt.Errorf("%s %s: %w", b.what, b.desc.Digest, classify(ctx, s.reg, err))
		}
		if have {
			continue
		}
		if err := s.repo.Blobs().Push(ctx, b.desc, bytes.NewReader(b.content)); err != nil {
			return fmt.Errorf("%s %s: %w", b.what, b.desc.Digest, classify(ctx, s.reg, err))
		}
	}
	var err error
	if r.Pinned() {
		err = s.repo.Manifests().Push(ctx, a.manifest, bytes.NewReader(a.manifestJSON))
	} else {
		err = s.repo.Manifests().PushReference(ctx, a.manifest, bytes.NewReader(a.manifestJSON), r.Tag)
	}
	if err != nil {
		return fmt.Errorf("manifest %s: %w", a.manifest.Digest, classify(ctx, s.reg, err))
	}
	return nil
}
