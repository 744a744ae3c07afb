package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// version is set at link time (-ldflags "-X main.version=v0.1.0"); empty
// means the module version from the build info.
var version string

func newVersionCmd(std stdio) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, the Go version and the engines compiled in",
		Args:  exactArgs(0),
		Run: func(*cobra.Command, []string) {
			fmt.Fprintf(std.out, "rrnode %s\n", buildVersion())
			fmt.Fprintf(std.out, "go %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
			list := make([]string, len(engines))
			for i, e := range engines {
				list[i] = e.name + " " + e.version()
			}
			fmt.Fprintf(std.out, "engines: %s\n", strings.Join(list, ", "))
		},
	}
}

func buildVersion() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " (" + s.Value[:12] + ")"
		}
	}
	return v
}
