// Package testcerts makes throwaway X.509 certificate authorities and
// certificates for tests of the tcp path's TLS: a CA, and leaves signed by
// it for both client and server use, written as PEM files.
package testcerts
