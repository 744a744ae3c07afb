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

// versionReport is rrnode version -o json.
type versionReport struct {
	Version string       `json:"version"`
	Go      string       `json:"go"`
	OS      string       `json:"os"`
	Arch    string       `json:"arch"`
	Engines []engineName `json:"engines"`
}

// engineName is an engine compiled in, as version reports it.
type engineName struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

func newVersionCmd(std stdio) *cobra.Command {
	c := &cobra.Command{
		Use:   "version",
		Short: "Print the version, the Go version and the engines compiled in",
		Long: `Print rrnode's version (rrnode --version prints this first line alone), the
Go version and platform it was built with, and the WebAssembly engines
compiled in with their versions.

-o json prints one JSON object instead:

    {"version", "go", "os", "arch", "engines": [{"name", "version"}]}`,
		Args: exactArgs(0),
	}
	out := addOutputFlag(c, "table", "json")
	c.RunE = func(*cobra.Command, []string) error {
		r := versionReport{Version: buildVersion(), Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
		for _, e := range engines {
			r.Engines = append(r.Engines, engineName{e.name, e.version()})
		}
		if out.value == "json" {
			return writeJSON(std.out, r)
		}
		list := make([]string, len(r.Engines))
		for i, e := range r.Engines {
			list[i] = e.Name + " " + e.Version
		}
		_, err := fmt.Fprintf(std.out, "rrnode %s\ngo %s %s/%s\nengines: %s\n", r.Version, r.Go, r.OS, r.Arch, strings.Join(list, ", "))
		return err
	}
	return c
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
