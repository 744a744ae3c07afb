// Package ringtest is the conformance suite every backend of package ring
// passes: [Run] drives a backend through real kernel operations (sockets,
// pipes, files), verifies every byte that crosses the kernel and accounts
// for every completion exactly once.
//
// A backend's test calls Run with a constructor:
//
//	func TestNative(t *testing.T) {
//		ringtest.Run(t, func(t *testing.T, o *ring.Options) *ring.Native {
//			r, err := ring.New(o)
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { r.Close() })
//			return r
//		})
//	}
//
// Nothing is mocked. Where the kernel lacks a feature a subtest needs, the
// subtest calls privileged.Skip, which fails instead of skipping when
// RR_REQUIRE_PRIVILEGED=1. The suite is Linux's: on other systems the
// package is empty.
package ringtest
