// Package privileged is the strict skip of tests that need what a test
// machine may not give: root, network namespaces, a kernel feature.
//
// A test that cannot run here calls [Skip] with the reason. Normally that
// skips the test; when the environment variable RR_REQUIRE_PRIVILEGED is
// "1" (CI on a machine that has all of it), it fails the test instead, so
// that a privileged run can never pass by skipping. Never print and return
// in place of Skip.
package privileged
