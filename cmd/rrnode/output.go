package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// output is a command's -o/--output flag: the format it prints in, one of
// the command's own list (kubectl's and cilium's convention). The first
// of the list is the default.
type output struct {
	value   string
	allowed []string
}

// addOutputFlag gives c the flag -o/--output with the formats allowed (the
// first the default), its completion, and its check before c runs.
func addOutputFlag(c *cobra.Command, allowed ...string) *output {
	o := &output{value: allowed[0], allowed: allowed}
	c.Flags().StringVarP(&o.value, "output", "o", allowed[0], "output `format`: "+orList(allowed))
	c.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(allowed, cobra.ShellCompDirectiveNoFileComp))
	pre := c.PreRunE
	c.PreRunE = func(c *cobra.Command, args []string) error {
		if !slices.Contains(o.allowed, o.value) {
			return usageError{fmt.Errorf("--output %q: want %s (see %s --help)", o.value, orList(o.allowed), c.CommandPath())}
		}
		if pre != nil {
			return pre(c, args)
		}
		return nil
	}
	return o
}

// jsonAlias is a hidden --json flag that means -o json (probe's before
// -o existed).
func (o *output) jsonAlias(c *cobra.Command) {
	f := c.Flags().VarPF((*jsonFlag)(o), "json", "", "the same as -o json")
	f.NoOptDefVal = "true"
	f.Hidden = true
}

// jsonFlag is an output seen as the boolean --json.
type jsonFlag output

func (j *jsonFlag) String() string { return fmt.Sprint(j.value == "json") }
func (j *jsonFlag) Type() string   { return "bool" }
func (j *jsonFlag) Set(s string) error {
	switch s {
	case "true":
		j.value = "json"
	case "false":
		j.value = j.allowed[0]
	default:
		return fmt.Errorf("want true or false")
	}
	return nil
}

// orList is "a", "a or b", "a, b or c".
func orList(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// writeJSON writes v as indented JSON, with <, > and & as they are.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
