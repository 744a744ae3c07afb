package netns

import (
	"errors"
	"os"
	"sync"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/internal/privileged"
)

var sweepOnce sync.Once

// ForTest creates a namespace named UniqueName(prefix) and removes it at
// tb's cleanup. Without root, or where the kernel refuses namespaces, it
// skips tb strictly (privileged.Skip). The first call of a process also
// removes the namespaces left by dead test processes.
func ForTest(tb testing.TB, prefix string) *NS {
	tb.Helper()
	if os.Geteuid() != 0 {
		privileged.Skip(tb, "network namespaces: creating them needs root")
	}
	sweepOnce.Do(sweep)
	ns, err := New(UniqueName(prefix))
	if errors.Is(err, os.ErrPermission) || errors.Is(err, errNotLinux) {
		privileged.Skip(tb, "network namespaces: "+err.Error())
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := ns.Close(); err != nil {
			tb.Error(err)
		}
	})
	return ns
}
