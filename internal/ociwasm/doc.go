// Package ociwasm pulls Wasm modules from OCI registries and pushes them
// there, in the CNCF Wasm OCI artifact layout (TAG Runtime's
// wasm-oci-artifact): an OCI image manifest whose config is of
// ConfigMediaType and whose one layer, of LayerMediaType, is the module.
// Pull also takes a plain single-layer image whose layer is a core Wasm
// module, whatever the media types; it refuses indexes, manifests of more
// or fewer layers, and layers that do not start as a core module.
//
// A module is named by a Reference, oci://REGISTRY/REPOSITORY:TAG or
// oci://REGISTRY/REPOSITORY@sha256:DIGEST; there is no implicit registry
// and no implicit "latest".
//
// Everything pulled is checked against its digest: the manifest against
// the reference's (when pinned) and the registry's Docker-Content-Digest,
// the layer against the manifest's descriptor, a cached file against its
// name. With Options.CacheDir, a pinned reference whose blobs are cached is
// served from the cache without the network — like Kubernetes'
// imagePullPolicy IfNotPresent, no credentials are checked then — and a
// tag is always resolved at the registry. A cached blob that fails its
// check is removed and fetched again.
//
// The package speaks to registries with oras-go; it never logs, never runs
// credential helpers, and reads no file but those its Options name.
// Errors wrap ErrDigestMismatch, ErrNotModule, ErrUnauthorized or
// ErrUnreachable, for errors.Is.
package ociwasm
