package ociwasm

import (
	"errors"
	"fmt"
	"strings"

	"oras.land/oras-go/v2/registry"
)

// Scheme starts every OCI reference of a module.
const Scheme = "oci://"

// IsReference reports whether s names a module in an OCI registry (starts
// with Scheme) rather than a file.
func IsReference(s string) bool { return strings.HasPrefix(s, Scheme) }

// Reference is oci://REGISTRY/REPOSITORY:TAG, oci://REGISTRY/REPOSITORY@DIGEST
// or both (REPOSITORY:TAG@DIGEST, where the digest wins and the tag is only
// a label, as with docker). REGISTRY is a host with an optional port and is
// never implied (no Docker Hub default); a reference without a tag or
// digest is refused (no implicit "latest").
type Reference struct {
	Registry   string // host[:port]
	Repository string // path in the registry, lowercase
	Tag        string // "" when pinned by digest only
	Digest     string // "sha256:" and 64 lowercase hex digits, or ""
}

// ParseReference parses s, which must start with Scheme.
func ParseReference(s string) (Reference, error) {
	r, err := parseReference(s)
	if err != nil {
		return Reference{}, fmt.Errorf("oci reference %q: %w", s, err)
	}
	return r, nil
}

func parseReference(s string) (Reference, error) {
	rest, ok := strings.CutPrefix(s, Scheme)
	if !ok {
		return Reference{}, fmt.Errorf("does not start with %s", Scheme)
	}
	reg, path, ok := strings.Cut(rest, "/")
	if !ok || reg == "" || path == "" {
		return Reference{}, errors.New("want " + Scheme + "REGISTRY/REPOSITORY:TAG or " + Scheme + "REGISTRY/REPOSITORY@sha256:DIGEST")
	}
	var r Reference
	r.Registry = reg
	if p, d, ok := strings.Cut(path, "@"); ok {
		if !validDigest(d) {
			return Reference{}, fmt.Errorf("digest %q: want sha256: and 64 lowercase hexadecimal digits", d)
		}
		path, r.Digest = p, d
	}
	if i := strings.LastIndexByte(path, ':'); i > strings.LastIndexByte(path, '/') {
		path, r.Tag = path[:i], path[i+1:]
		if r.Tag == "" {
			return Reference{}, errors.New("empty tag after ':'")
		}
	}
	r.Repository = path
	if r.Tag == "" && r.Digest == "" {
		return Reference{}, errors.New(`no tag or digest: add :TAG or @sha256:DIGEST (there is no implicit "latest")`)
	}
	o := registry.Reference{Registry: r.Registry, Repository: r.Repository, Reference: r.Tag}
	if err := o.ValidateRegistry(); err != nil {
		return Reference{}, fmt.Errorf("registry %q: want a host name or address with an optional :port", r.Registry)
	}
	if err := o.ValidateRepository(); err != nil {
		return Reference{}, fmt.Errorf("repository %q: want lowercase path components of letters, digits and separators (. _ -)", r.Repository)
	}
	if r.Tag != "" {
		if err := o.ValidateReferenceAsTag(); err != nil {
			return Reference{}, fmt.Errorf("tag %q: want up to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'", r.Tag)
		}
	}
	return r, nil
}

// validDigest reports whether d is sha256: and 64 lowercase hex digits, the
// only digest this package pulls and caches.
func validDigest(d string) bool {
	hex, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(hex) != 64 {
		return false
	}
	for _, c := range []byte(hex) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// String is the reference as ParseReference takes it, with the scheme.
func (r Reference) String() string {
	s := Scheme + r.Registry + "/" + r.Repository
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// Pinned reports whether r names its content by digest: what it pulls
// cannot change, and a cached copy serves it without the registry.
func (r Reference) Pinned() bool { return r.Digest != "" }

// pinned is r by digest only: oci://REGISTRY/REPOSITORY@DIGEST.
func (r Reference) pinned(digest string) Reference {
	return Reference{Registry: r.Registry, Repository: r.Repository, Digest: digest}
}

// ref is the reference the registry is asked for: the digest if there is
// one, else the tag.
func (r Reference) ref() string {
	if r.Digest != "" {
		return r.Digest
	}
	return r.Tag
}
