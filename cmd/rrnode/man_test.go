package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestGenMan: rrnode gen-man writes one page per command a user can run
// (and none for the hidden ones), each with its flags and the header date
// of $SOURCE_DATE_EPOCH; the same inputs write the same bytes.
func TestGenMan(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000") // Nov 2023
	dir := filepath.Join(t.TempDir(), "man")
	if r := rrnode(t, "", "gen-man", dir); r.code != 0 {
		t.Fatalf("gen-man: exit %d, stderr %s", r.code, r.err)
	}

	// Every available command of the real tree, walked here.
	var want []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if !c.IsAvailableCommand() && c.HasParent() {
			return
		}
		want = append(want, strings.ReplaceAll(c.CommandPath(), " ", "-")+".1")
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	root := newRootCmd(stdio{})
	root.InitDefaultCompletionCmd() // as Execute does
	walk(root)
	slices.Sort(want)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if !slices.Equal(got, want) {
		t.Fatalf("pages %v, want %v", got, want)
	}
	for _, page := range []string{"rrnode.1", "rrnode-start.1", "rrnode-invoke.1", "rrnode-version.1", "rrnode-probe.1", "rrnode-cluster.1", "rrnode-bench.1", "rrnode-completion-bash.1"} {
		if !slices.Contains(got, page) {
			t.Errorf("no %s", page)
		}
	}
	for _, hidden := range []string{"rrnode-gen-man.1", "rrnode-bench-agent.1", "rrnode-bench-check.1", "rrnode-help.1"} {
		if slices.Contains(got, hidden) {
			t.Errorf("a page for %s", hidden)
		}
	}

	start, err := os.ReadFile(filepath.Join(dir, "rrnode-start.1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`.TH "RRNODE-START" "1" "Nov 2023" "rrnode ` + buildVersion() + `" "Roadrunner Manual"`, `\fB--accel\fP=auto`, `\fB--config\fP=""`, "node.drain_timeout"} {
		if !bytes.Contains(start, []byte(want)) {
			t.Errorf("rrnode-start.1 lacks %q:\n%.600s", want, start)
		}
	}
	if bytes.Contains(start, []byte("Auto generated")) {
		t.Errorf("rrnode-start.1 has cobra's auto-generated line (with today's date)")
	}

	again := filepath.Join(t.TempDir(), "man")
	if r := rrnode(t, "", "gen-man", again); r.code != 0 {
		t.Fatalf("gen-man again: exit %d, stderr %s", r.code, r.err)
	}
	for _, name := range got {
		a, _ := os.ReadFile(filepath.Join(dir, name))
		b, err := os.ReadFile(filepath.Join(again, name))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs from one run to the next (%v)", name, err)
		}
	}

	t.Setenv("SOURCE_DATE_EPOCH", "yesterday")
	if r := rrnode(t, "", "gen-man", t.TempDir()); r.code != 1 || !strings.Contains(r.err, `SOURCE_DATE_EPOCH "yesterday"`) {
		t.Errorf("a bad SOURCE_DATE_EPOCH: exit %d, stderr %s", r.code, r.err)
	}
}
