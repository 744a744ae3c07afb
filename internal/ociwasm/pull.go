package ociwasm

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote/auth"
)

// Module is a pulled module.
type Module struct {
	Bytes     []byte // the module: the layer's content
	Digest    string // the manifest's digest, "sha256:..."
	Layer     string // the layer's digest
	Reference string // the reference resolved: oci://REGISTRY/REPOSITORY@DIGEST
	FromCache bool   // read from CacheDir without asking the registry
}

// Pull fetches the module ref names (see ParseReference).
//
// A reference pinned by digest whose manifest and layer are in
// o.CacheDir is read from there, checked again against the digests,
// without contacting the registry: no network, no credentials checked.
// Otherwise the registry is asked — a tag is always resolved there — and
// what it sends is checked (the manifest against the reference's digest
// if pinned, the layer against the manifest's descriptor, the layer as a
// Wasm module) and then written to o.CacheDir. A layer already cached
// under the digest the manifest names is not fetched again.
//
// Errors name the reference and wrap ErrDigestMismatch, ErrNotModule,
// ErrUnauthorized or ErrUnreachable when they are one of those.
func Pull(ctx context.Context, ref string, o *Options) (*Module, error) {
	if o == nil {
		o = &Options{}
	}
	r, err := ParseReference(ref)
	if err != nil {
		return nil, err
	}
	c := cache{o.CacheDir}
	var corrupt error // a cached entry found corrupt and removed
	if r.Pinned() {
		m, err := c.module(r)
		if m != nil {
			return m, nil
		}
		corrupt = err
	}
	s, err := o.open(r)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", r, err)
	}
	defer s.close()
	m, err := s.pull(ctx, r, c)
	if err != nil {
		if corrupt != nil {
			return nil, fmt.Errorf("pull %s: %w (and the cached copy was corrupt: %v)", r, err, corrupt)
		}
		return nil, fmt.Errorf("pull %s: %w", r, err)
	}
	return m, nil
}

// module is r's module from the cache, or nil if either of its blobs is
// missing or corrupt (the error says which was corrupt).
func (c cache) module(r Reference) (*Module, error) {
	mb, err := c.get(r.Digest, maxManifestSize)
	if mb == nil {
		return nil, err
	}
	l, err := moduleLayer(mb, "")
	if err != nil {
		return nil, err // not cached by Pull, which checks before caching
	}
	lb, err := c.get(string(l.Digest), MaxModuleSize)
	if lb == nil || int64(len(lb)) != l.Size || checkModule(lb) != nil {
		return nil, err
	}
	return &Module{Bytes: lb, Digest: r.Digest, Layer: string(l.Digest), Reference: r.pinned(r.Digest).String(), FromCache: true}, nil
}

func (s *session) pull(ctx context.Context, r Reference, c cache) (*Module, error) {
	mb, digest, contentType, err := s.manifest(ctx, r)
	if err != nil {
		return nil, err
	}
	l, err := moduleLayer(mb, contentType)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", digest, err)
	}
	lb, _ := c.get(string(l.Digest), MaxModuleSize)
	if lb == nil || int64(len(lb)) != l.Size {
		if lb, err = s.blob(ctx, l); err != nil {
			return nil, err
		}
	}
	if err := checkModule(lb); err != nil {
		return nil, fmt.Errorf("layer %s (%s): %w", l.Digest, l.MediaType, err)
	}
	// The layer first: a cached manifest promises a cached layer.
	if err := c.put(string(l.Digest), lb); err != nil {
		return nil, err
	}
	if err := c.put(digest, mb); err != nil {
		return nil, err
	}
	return &Module{Bytes: lb, Digest: digest, Layer: string(l.Digest), Reference: r.pinned(digest).String()}, nil
}

// manifestAccept are the manifests asked for: the image manifests Pull
// takes, and the indexes it refuses with a clear error rather than a 404.
var manifestAccept = strings.Join([]string{
	ocispec.MediaTypeImageManifest, dockerManifestMediaType,
	ocispec.MediaTypeImageIndex, dockerListMediaType,
}, ", ")

// manifest fetches r's manifest and returns it with its digest, computed
// here and checked against r's digest if pinned, and its Content-Type.
func (s *session) manifest(ctx context.Context, r Reference) (b []byte, digest, contentType string, err error) {
	wctx, progress, stop := s.watch(auth.AppendRepositoryScope(ctx, s.repo.Reference, auth.ActionPull))
	defer stop()
	scheme := "https"
	if s.repo.PlainHTTP {
		scheme = "http"
	}
	u := fmt.Sprintf("%s://%s/v2/%s/manifests/%s", scheme, s.repo.Reference.Host(), r.Repository, r.ref())
	req, err := http.NewRequestWithContext(wctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, "", "", err
	}
	req.Header.Set("Accept", manifestAccept)
	resp, err := s.repo.Client.Do(req)
	if err != nil {
		return nil, "", "", s.stalled(ctx, wctx, "manifest "+r.ref(), err)
	}
	defer resp.Body.Close()
	b, err = io.ReadAll(io.LimitReader(progressReader{resp.Body, progress}, maxManifestSize+1))
	if err != nil {
		return nil, "", "", s.stalled(ctx, wctx, "manifest "+r.ref(), err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, "", "", fmt.Errorf("manifest %s: not found in %s/%s", r.ref(), r.Registry, r.Repository)
	case resp.StatusCode != http.StatusOK:
		return nil, "", "", classify(ctx, s.reg, statusError(req, resp.StatusCode, b))
	case len(b) > maxManifestSize:
		return nil, "", "", fmt.Errorf("%w: manifest %s: larger than %d MiB", ErrNotModule, r.ref(), maxManifestSize>>20)
	}
	digest = Digest(b)
	if r.Pinned() && digest != r.Digest {
		return nil, "", "", fmt.Errorf("%w: the registry sent a manifest of digest %s for %s", ErrDigestMismatch, digest, r.Digest)
	}
	if h := resp.Header.Get("Docker-Content-Digest"); h != "" && h != digest {
		return nil, "", "", fmt.Errorf("%w: manifest %s: the registry says its digest is %s, its content's is %s", ErrDigestMismatch, r.ref(), h, digest)
	}
	contentType, _, _ = mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return b, digest, contentType, nil
}

// blob fetches the layer l and checks it against l's digest and size.
func (s *session) blob(ctx context.Context, l ocispec.Descriptor) ([]byte, error) {
	wctx, progress, stop := s.watch(ctx)
	defer stop()
	rc, err := s.repo.Blobs().Fetch(wctx, l)
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", l.Digest, s.stalled(ctx, wctx, "layer", err))
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(progressReader{rc, progress}, l.Size+1))
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", l.Digest, s.stalled(ctx, wctx, "layer", err))
	}
	if n := int64(len(b)); n < l.Size {
		return nil, fmt.Errorf("%w: layer %s: the registry sent %d bytes, the manifest says %d", ErrDigestMismatch, l.Digest, n, l.Size)
	} else if n > l.Size {
		return nil, fmt.Errorf("%w: layer %s: the registry sent more than the %d bytes the manifest says", ErrDigestMismatch, l.Digest, l.Size)
	}
	if d := Digest(b); d != string(l.Digest) {
		return nil, fmt.Errorf("%w: layer %s: the registry sent content of digest %s", ErrDigestMismatch, l.Digest, d)
	}
	return b, nil
}
