package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// stdio is where a command reads and writes: the process's own, or a
// test's buffers.
type stdio struct {
	in       io.Reader
	out, err io.Writer
}

// usageError is a command line that does not parse: exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// run executes the command line args and returns the exit status. ctx ends
// a running node as SIGINT does.
func run(ctx context.Context, args []string, std stdio) int {
	root := newRootCmd(std)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintf(std.err, "rrnode: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// Command groups of rrnode --help.
const (
	groupNode   = "node"
	groupClient = "client"
	groupModule = "module"
	groupHost   = "host"
)

// newRootCmd is the command tree: rrnode and its commands, writing to std.
func newRootCmd(std stdio) *cobra.Command {
	root := &cobra.Command{
		Use:   "rrnode",
		Short: "Run Roadrunner nodes: WebAssembly functions that pass payloads memory to memory",
		Long: `rrnode runs a Roadrunner node: a process that hosts WebAssembly functions
and moves the payloads they send each other memory to memory, without
serializing them: within the node, to nodes of the same host over a unix
socket (or their shared memory), to other hosts over tcp. Functions are
invoked over HTTP. rrnode is also the client that talks to nodes.

Start here:

    rrnode start --config node.yaml         run a node (config: docs/CONFIG.md)
    rrnode invoke NAME --data 'a payload'   invoke a function, print its reply
    rrnode probe                            what this host lets the node use

Exit status: 0 on success, 1 on failure, 2 on a usage error.`,
		Version:           buildVersion(),
		SilenceUsage:      true,
		SilenceErrors:     true,
		DisableAutoGenTag: true, // reproducible man pages (gen-man)
	}
	root.SetIn(std.in)
	root.SetOut(std.out)
	root.SetErr(std.err)
	// --version prints the first line of rrnode version, and has no -v
	// (bench's -v is --verbose).
	root.Flags().Bool("version", false, "print the version and exit (rrnode version says more)")
	root.SetVersionTemplate("rrnode {{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w (see %s --help)", err, c.CommandPath())}
	})
	root.AddGroup(
		&cobra.Group{ID: groupNode, Title: "Run a node:"},
		&cobra.Group{ID: groupClient, Title: "Talk to a running node:"},
		&cobra.Group{ID: groupModule, Title: "Move modules to and from OCI registries:"},
		&cobra.Group{ID: groupHost, Title: "This host and this build:"},
	)
	add := func(group string, cs ...*cobra.Command) {
		for _, c := range cs {
			c.GroupID = group
			root.AddCommand(c)
		}
	}
	add(groupNode, newStartCmd(std))
	add(groupClient, newInvokeCmd(std), newClusterCmd(std), newHealthCmd(std))
	add(groupModule, newPushCmd(std), newPullCmd(std))
	add(groupHost, newProbeCmd(std), newVersionCmd(std), newKeygenCmd(std), newBenchCmd(std))
	root.AddCommand(newBenchAgentCmd(std), newBenchCheckCmd(std), newGenManCmd(std))
	return root
}

// exactArgs is cobra.ExactArgs with a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(c, args); err != nil {
			return usageError{fmt.Errorf("%s: %w (see %s --help)", c.Name(), err, c.CommandPath())}
		}
		return nil
	}
}
