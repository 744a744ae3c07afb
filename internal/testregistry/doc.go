// Package testregistry serves a real OCI distribution registry for tests:
// go-containerregistry's pkg/registry over net/http on a random loopback
// port, optionally over HTTPS with a CA of internal/testcerts and behind
// HTTP Basic authentication. Other processes of a test (rrnode children)
// reach it as well, at Registry.Host.
//
// Blobs are stored as files under Registry.BlobDir (sha256/HEX), checked
// when uploaded but not when served, so that a test can corrupt one the way
// a registry on faulty storage would serve it; manifests are kept in memory. The registry is permissive as the real one it embeds
// is: a manifest PUT under a digest it does not have is stored under that
// name too, which is how tests make a registry send content that does not
// match its digest.
package testregistry
