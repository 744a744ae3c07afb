package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
)

// DependencyVersion is the version of the Go module modulePath linked into
// this binary (its replacement's, if replaced), or "unknown". Engines report
// the version of the runtime they wrap with it.
func DependencyVersion(modulePath string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == modulePath {
				if d.Replace != nil {
					return d.Replace.Version
				}
				return d.Version
			}
		}
	}
	return "unknown"
}

// DefaultCacheDir is where the engine named engine keeps compiled modules
// unless configured otherwise: roadrunner/ENGINE under the user's cache
// directory ($XDG_CACHE_HOME or ~/.cache).
func DefaultCacheDir(engine string) (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("%s: default cache dir: %w", engine, err)
	}
	return filepath.Join(d, "roadrunner", engine), nil
}
