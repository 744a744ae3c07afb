package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// newGenManCmd is rrnode gen-man DIR: the man pages, one per command,
// written by cobra/doc from the commands' help (make docs; hidden).
func newGenManCmd(std stdio) *cobra.Command {
	return &cobra.Command{
		Use:   "gen-man DIR",
		Short: "Write a man page per command into DIR (make docs)",
		Long: `Write rrnode's man pages (section 1) into DIR, one per command (rrnode.1,
rrnode-start.1, ...), from the commands' help. The date in their header is
$SOURCE_DATE_EPOCH (make docs sets the last commit's), else the time of
the commit rrnode was built from, else today: the same inputs give the same
pages.`,
		Hidden: true,
		Args:   exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			date, err := manDate()
			if err != nil {
				return err
			}
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return fmt.Errorf("gen-man: %w", err)
			}
			header := &doc.GenManHeader{Section: "1", Date: &date, Source: "rrnode " + buildVersion(), Manual: "Roadrunner Manual"}
			if err := doc.GenManTree(c.Root(), header, args[0]); err != nil {
				return fmt.Errorf("gen-man: %w", err)
			}
			fmt.Fprintf(std.err, "gen-man: man pages in %s\n", args[0])
			return nil
		},
	}
}

// manDate is the date of the man pages: $SOURCE_DATE_EPOCH (the
// reproducible-builds convention), else the build's commit time, else now.
func manDate() (time.Time, error) {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("gen-man: SOURCE_DATE_EPOCH %q: want seconds since 1970", s)
		}
		return time.Unix(sec, 0).UTC(), nil
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.time" {
				if t, err := time.Parse(time.RFC3339, s.Value); err == nil {
					return t.UTC(), nil
				}
			}
		}
	}
	return time.Now().UTC(), nil
}
