package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/roadrunner-wasm/roadrunner/transport/features"
)

// probeReport is the output of rrnode probe -o json.
type probeReport struct {
	Kernel   string             `json:"kernel"`
	Features []features.Feature `json:"features"`
	Engines  []engineInfo       `json:"engines"`
}

// engineInfo is an engine compiled in, as probe reports it.
type engineInfo struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// SharedMemory: the engine can put a function's memory in a memfd
	// for the shm path (shared_memory).
	SharedMemory bool `json:"shared_memory"`
}

func newProbeCmd(std stdio) *cobra.Command {
	c := &cobra.Command{
		Use:   "probe",
		Short: "Report which kernel features the paths can use here, and why not",
		Long: `Probe the kernel features the transfer paths use (unix and tcp sockets,
splice, vmsplice, the pipe size, io_uring and its zero-copy send, the eBPF
sockmap, the memfds of the shm path) as this process is allowed to use them,
and print the kernel, each feature with the reason it is unavailable, and the
engines compiled in, with their versions and whether they can share a
function's memory (the shm path needs it of the receiving function's). It
exits 0 whatever it finds: a node falls back from a refused feature, and
probe only says what it would fall back from. Probing leaves nothing behind
(the sockmap probe loads its program unpinned).

-o json prints one JSON object instead (--json is the same):

    {"kernel", "features": [{"name", "available", "detail", "reason"}],
     "engines": [{"name", "version", "shared_memory"}]}`,
		Args: exactArgs(0),
	}
	out := addOutputFlag(c, "table", "json")
	out.jsonAlias(c)
	c.RunE = func(*cobra.Command, []string) error {
		r := probeReport{Kernel: features.KernelVersion(), Features: features.Probe()}
		for _, e := range engines {
			r.Engines = append(r.Engines, engineInfo{Name: e.name, Version: e.version(), SharedMemory: e.sharesMemory})
		}
		if out.value == "json" {
			return writeJSON(std.out, r)
		}
		return writeProbeTable(std, r)
	}
	return c
}

// writeProbeTable prints r as aligned columns, without trailing blanks.
func writeProbeTable(std stdio, r probeReport) error {
	var b bytes.Buffer
	list := make([]string, len(r.Engines))
	for i, e := range r.Engines {
		list[i] = e.Name + " " + e.Version
		if e.SharedMemory {
			list[i] += " (shares memory: shm)"
		}
	}
	fmt.Fprintf(&b, "kernel: %s\nengines: %s\n\n", r.Kernel, strings.Join(list, ", "))
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FEATURE\tAVAILABLE\tDETAIL\tREASON")
	for _, f := range r.Features {
		avail := "no"
		if f.Available {
			avail = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Name, avail, f.Detail, f.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var out strings.Builder
	for l := range strings.Lines(b.String()) {
		out.WriteString(strings.TrimRight(l, " \n") + "\n")
	}
	_, err := io.WriteString(std.out, out.String())
	return err
}
