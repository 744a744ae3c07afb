package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// decodeStrict decodes the one JSON value of out into v, refusing fields
// v does not have.
func decodeStrict(t *testing.T, out string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%v in:\n%s", err, out)
	}
	if dec.More() {
		t.Fatalf("more than one JSON value:\n%s", out)
	}
}

// TestVersionFlag: rrnode --version is the first line of rrnode version.
func TestVersionFlag(t *testing.T) {
	r := rrnode(t, "", "--version")
	v := rrnode(t, "", "version")
	first, _, _ := strings.Cut(v.out, "\n")
	if r.code != 0 || r.out != first+"\n" || r.out != "rrnode "+buildVersion()+"\n" {
		t.Fatalf("--version: exit %d, %q; want rrnode version's first line %q", r.code, r.out, first)
	}
}

func TestVersionJSON(t *testing.T) {
	r := rrnode(t, "", "version", "-o", "json")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %s", r.code, r.err)
	}
	var rep struct {
		Version, Go, OS, Arch string
		Engines               []struct{ Name, Version string }
	}
	decodeStrict(t, r.out, &rep)
	if rep.Version != buildVersion() || rep.Go != runtime.Version() || rep.OS != runtime.GOOS || rep.Arch != runtime.GOARCH {
		t.Errorf("%+v", rep)
	}
	if len(rep.Engines) != len(engines) || rep.Engines[0].Name != "wazero" || !strings.HasPrefix(rep.Engines[0].Version, "v1.") {
		t.Errorf("engines %+v", rep.Engines)
	}
	// The table says the same.
	table := rrnode(t, "", "version", "--output", "table")
	if want := "engines: wazero " + rep.Engines[0].Version; table.code != 0 || !strings.Contains(table.out, want) {
		t.Errorf("-o table: %q, want %q", table.out, want)
	}
}

// TestProbeJSONAlias: --json is -o json.
func TestProbeJSONAlias(t *testing.T) {
	o := rrnode(t, "", "probe", "-o", "json")
	j := rrnode(t, "", "probe", "--json")
	if o.code != 0 || j.code != 0 || !strings.HasPrefix(o.out, "{\n") {
		t.Fatalf("-o json: exit %d %q; --json: exit %d", o.code, o.out, j.code)
	}
	// The features' reasons may differ from one probe to the next only in
	// what the kernel says; the keys and rows do not.
	var a, b probeReport
	decodeStrict(t, o.out, &a)
	decodeStrict(t, j.out, &b)
	if a.Kernel != b.Kernel || len(a.Features) != len(b.Features) || len(a.Engines) != len(b.Engines) {
		t.Errorf("-o json and --json differ:\n%s\n%s", o.out, j.out)
	}
	h := rrnode(t, "", "probe", "--help")
	if _, flags, _ := strings.Cut(h.out, "\nFlags:\n"); strings.Contains(flags, "--json") || !strings.Contains(flags, "-o, --output format") {
		t.Errorf("probe --help lists --json, or not -o:\n%s", h.out)
	}
}

// TestOutputUsage: every command with -o refuses a format it does not
// have, naming the ones it has.
func TestOutputUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"version", "-o", "yaml"}, `--output "yaml": want table or json (see rrnode version --help)`},
		{[]string{"probe", "--output", "wide"}, `--output "wide": want table or json`},
		{[]string{"cluster", "-o", "yaml"}, `--output "yaml": want table or json`},
		{[]string{"invoke", "echo", "-o", "table"}, `--output "table": want raw or json`},
		{[]string{"bench", "-o", "yaml"}, `--output "yaml": want table, csv or json`},
		{[]string{"bench", "--format", "xml"}, `--output "xml": want table, csv or json`},
	} {
		r := rrnode(t, "", tc.args...)
		if r.code != 2 || !strings.Contains(r.err, tc.want) {
			t.Errorf("rrnode %s: exit %d, stderr %q; want 2 and %q", strings.Join(tc.args, " "), r.code, r.err, tc.want)
		}
	}
}

// TestSizesUsage: a bad --sizes names the flag, what is wrong and the
// grammar.
func TestSizesUsage(t *testing.T) {
	r := rrnode(t, "", "bench", "--sizes", "4KiB,1mib", "--out", t.TempDir())
	if want := `--sizes: "1mib": unit "mib": units are case-sensitive: write MiB; want a size: an integer number of bytes, or a number and a unit`; r.code != 2 || !strings.Contains(r.err, want) || !strings.Contains(r.err, "docs/CONFIG.md#sizes") {
		t.Errorf("exit %d, stderr %q; want 2 and %q", r.code, r.err, want)
	}
}

// invokeReportJSON is invoke -o json's object, its keys decoded strictly
// (the trace's and the error body's are the node's: not here).
type invokeReportJSON struct {
	Function        string
	Status          int
	Reply           *string
	ReplyBase64     []byte          `json:"reply_base64"`
	RawTrace        json.RawMessage `json:"trace"`
	RawError        json.RawMessage `json:"error"`
	ErrorAfterReply string          `json:"error_after_reply"`

	Trace []struct{ From, To, Path, Result string } `json:"-"`
	Error *struct{ Error, Label string }            `json:"-"`
}

func TestInvokeJSON(t *testing.T) {
	addr, _ := startNode(t)
	binary := filepath.Join(t.TempDir(), "binary")
	if err := os.WriteFile(binary, []byte{0xff, 0xfe, 0, 1}, 0o644); err != nil {
		t.Fatal(err)
	}
	invoke := func(t *testing.T, code int, args ...string) invokeReportJSON {
		t.Helper()
		r := rrnode(t, "", append([]string{"invoke", "--addr", addr, "-o", "json"}, args...)...)
		if r.code != code {
			t.Fatalf("exit %d, want %d; stdout %s, stderr %s", r.code, code, r.out, r.err)
		}
		var rep invokeReportJSON
		decodeStrict(t, r.out, &rep)
		for raw, v := range map[*json.RawMessage]any{&rep.RawTrace: &rep.Trace, &rep.RawError: &rep.Error} {
			if *raw != nil {
				if err := json.Unmarshal(*raw, v); err != nil {
					t.Fatalf("%v in %s", err, *raw)
				}
			}
		}
		return rep
	}

	t.Run("text", func(t *testing.T) {
		rep := invoke(t, 0, "relay", "--data", "forward echo\nabc <&>")
		if rep.Function != "relay" || rep.Status != 200 || rep.Reply == nil || *rep.Reply != "abc <&>" || rep.ReplyBase64 != nil || rep.Error != nil {
			t.Errorf("%+v", rep)
		}
		if len(rep.Trace) != 2 || rep.Trace[0].To != "relay" || rep.Trace[1].From != "relay" || rep.Trace[1].To != "echo" || rep.Trace[1].Path != "memory" || rep.Trace[1].Result != "ok" {
			t.Errorf("trace %+v", rep.Trace)
		}
	})
	t.Run("binary", func(t *testing.T) {
		rep := invoke(t, 0, "echo", "--data", "@"+binary)
		if rep.Reply != nil || string(rep.ReplyBase64) != "\xff\xfe\x00\x01" {
			t.Errorf("%+v: want the reply in reply_base64", rep)
		}
	})
	t.Run("empty", func(t *testing.T) {
		rep := invoke(t, 0, "echo")
		if rep.Reply == nil || *rep.Reply != "" {
			t.Errorf("%+v: want an empty reply", rep)
		}
	})
	t.Run("unknown function", func(t *testing.T) {
		rep := invoke(t, 1, "nosuch", "--data", "x")
		if rep.Status != 404 || rep.Reply != nil || rep.Error == nil || !strings.Contains(rep.Error.Error, `unknown function "nosuch"`) || rep.Error.Label != "unknown_function" {
			t.Errorf("%+v", rep)
		}
	})
	t.Run("failure after the reply", func(t *testing.T) {
		rep := invoke(t, 1, "relay", "--data", "replythenfail")
		if rep.Status != 200 || rep.Reply == nil || *rep.Reply != "partial" || rep.ErrorAfterReply == "" {
			t.Errorf("%+v", rep)
		}
	})
}

// TestRootHelp: rrnode --help says what rrnode is, how to start, and lists
// every command a user runs, grouped.
func TestRootHelp(t *testing.T) {
	r := rrnode(t, "", "--help")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %s", r.code, r.err)
	}
	for _, want := range []string{
		"rrnode runs a Roadrunner node", "rrnode start --config node.yaml", "docs/CONFIG.md",
		"Run a node:\n  start ", "Talk to a running node:\n", "This host and this build:\n",
		"  invoke ", "  cluster ", "  health ", "  probe ", "  version ", "  keygen ", "  bench ", "  completion ",
		"--version",
	} {
		if !strings.Contains(r.out, want) {
			t.Errorf("rrnode --help lacks %q:\n%s", want, r.out)
		}
	}
	for _, hidden := range []string{"bench-agent", "bench-check", "gen-man"} {
		if strings.Contains(r.out, hidden) {
			t.Errorf("rrnode --help shows the hidden %s", hidden)
		}
	}
}
