package privileged

import (
	"os"
	"testing"
)

// Env is the environment variable that turns skips into failures.
const Env = "RR_REQUIRE_PRIVILEGED"

// Required reports whether RR_REQUIRE_PRIVILEGED=1: every privileged test
// must run.
func Required() bool { return os.Getenv(Env) == "1" }

// Skip skips tb with reason, or fails it (tb.Fatalf) when [Required].
func Skip(tb testing.TB, reason string) {
	tb.Helper()
	if Required() {
		tb.Fatalf("%s (and %s=1: privileged tests must run)", reason, Env)
		return // Fatalf does not return; a fake TB's may
	}
	tb.Skip(reason)
}

// RequireRoot calls [Skip] unless the process runs as root (effective uid 0).
func RequireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		Skip(tb, "needs root")
	}
}
