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
	root := &cobra.Command{
		Use:           "rrnode",
		Short:         "Roadrunner node: host WebAssembly functions that pass payloads memory to memory",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetIn(std.in)
	root.SetOut(std.out)
	root.SetErr(std.err)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w (see %s --help)", err, c.CommandPath())}
	})
	root.AddCommand(newStartCmd(std), newInvokeCmd(std), newVersionCmd(std))
	root.AddCommand(newProbeCmd(std), newHealthCmd(std), newKeygenCmd(std), newClusterCmd(std))
	root.AddCommand(newBenchCmd(std), newBenchAgentCmd(std), newBenchCheckCmd(std))
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

// exactArgs is cobra.ExactArgs with a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(c, args); err != nil {
			return usageError{fmt.Errorf("%s: %w (see %s --help)", c.Name(), err, c.CommandPath())}
		}
		return nil
	}
}
