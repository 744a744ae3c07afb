package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/roadrunner-wasm/roadrunner/internal/bench"
	"github.com/roadrunner-wasm/roadrunner/internal/wasmbuild"
	"github.com/roadrunner-wasm/roadrunner/transport"
)

// complete runs cobra's hidden __complete command on the real command
// tree, as the completion scripts do, and returns the candidates and the
// directive.
func complete(t *testing.T, args ...string) ([]string, cobra.ShellCompDirective) {
	t.Helper()
	r := rrnode(t, "", append([]string{"__complete"}, args...)...)
	if r.code != 0 {
		t.Fatalf("__complete %q: exit %d, stderr %s", args, r.code, r.err)
	}
	lines := strings.Split(strings.TrimSuffix(r.out, "\n"), "\n")
	last := lines[len(lines)-1]
	d, err := strconv.Atoi(strings.TrimPrefix(last, ":"))
	if !strings.HasPrefix(last, ":") || err != nil {
		t.Fatalf("__complete %q: no directive line in %q", args, r.out)
	}
	var out []string
	for _, l := range lines[:len(lines)-1] {
		v, _, _ := strings.Cut(l, "\t") // a description, if any
		out = append(out, v)
	}
	return out, cobra.ShellCompDirective(d)
}

const (
	noFile        = cobra.ShellCompDirectiveNoFileComp
	noFileNoSpace = cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
)

// TestCompleteFlagValues: each flag's completions, and each of them is a
// value the flag accepts.
func TestCompleteFlagValues(t *testing.T) {
	accel := func(v string) error { _, err := transport.ParseAccels(v); return err }
	mechanism := func(v string) error { _, err := transport.ParseMechanism(v); return err }
	engine := func(v string) error { _, err := lookupEngine(v); return err }
	logFormat := func(v string) error { _, err := newLogger(v, "info", io.Discard); return err }
	logLevel := func(v string) error { _, err := newLogger("text", v, io.Discard); return err }
	paths := func(v string) error { _, err := bench.ParsePaths(v); return err }
	versionOutput := func(v string) error {
		if r := rrnode(t, "", "version", "-o", v); r.code != 0 {
			return fmt.Errorf("exit %d: %s", r.code, r.err)
		}
		return nil
	}
	var engineNames []string
	for _, e := range engines {
		engineNames = append(engineNames, e.name)
	}
	otherPaths := slices.DeleteFunc(slices.Clone(bench.AllPaths), func(p string) bool { return p == "memory" })
	for i, p := range otherPaths {
		otherPaths[i] = "memory," + p
	}
	for _, tc := range []struct {
		args  []string
		want  []string
		dir   cobra.ShellCompDirective
		parse func(string) error
	}{
		{[]string{"start", "--accel", ""}, []string{"auto", "none", "iouring", "sockmap", "shm"}, noFileNoSpace, accel},
		{[]string{"start", "--accel", "io"}, []string{"auto", "none", "iouring", "sockmap", "shm"}, noFileNoSpace, accel},
		{[]string{"start", "--accel", "iouring,"}, []string{"iouring,sockmap", "iouring,shm"}, noFileNoSpace, accel},
		{[]string{"start", "--accel", "shm,iouring,s"}, []string{"shm,iouring,sockmap"}, noFileNoSpace, accel},
		{[]string{"start", "--accel=sockmap,"}, []string{"sockmap,iouring", "sockmap,shm"}, noFileNoSpace, accel},
		{[]string{"start", "--accel", "iouring,sockmap,shm,"}, nil, noFileNoSpace, accel},
		{[]string{"start", "--accel", "none,"}, nil, noFile, accel},
		{[]string{"start", "--engine", ""}, engineNames, noFile, engine},
		{[]string{"bench", "--engine", ""}, engineNames, noFile, engine},
		{[]string{"start", "--tcp-send", ""}, []string{"auto", "write", "splice"}, noFile, mechanism},
		{[]string{"start", "--log-format", ""}, []string{"text", "json"}, noFile, logFormat},
		{[]string{"start", "--log-level", ""}, []string{"debug", "info", "warn", "error"}, noFile, logLevel},
		{[]string{"bench", "--paths", "memory,"}, otherPaths, noFileNoSpace, paths},
		{[]string{"version", "-o", ""}, []string{"table", "json"}, noFile, versionOutput},
		{[]string{"probe", "--output", ""}, []string{"table", "json"}, noFile, nil},
		{[]string{"cluster", "-o", ""}, []string{"table", "json"}, noFile, nil},
		{[]string{"invoke", "-o", ""}, []string{"raw", "json"}, noFile, nil},
		{[]string{"bench", "-o", ""}, []string{"table", "csv", "json"}, noFile, nil},
	} {
		got, dir := complete(t, tc.args...)
		if !slices.Equal(got, tc.want) || dir != tc.dir {
			t.Errorf("complete %q: %q, directive %d; want %q, %d", tc.args, got, dir, tc.want, tc.dir)
		}
		for _, v := range got {
			if tc.parse == nil {
				continue
			}
			if err := tc.parse(v); err != nil {
				t.Errorf("complete %q offers %q, which its flag refuses: %v", tc.args, v, err)
			}
		}
	}
	// start --config offers YAML files.
	if got, dir := complete(t, "start", "--config", ""); !slices.Equal(got, []string{"yaml", "yml"}) || dir != cobra.ShellCompDirectiveFilterFileExt {
		t.Errorf("start --config: %q, %d", got, dir)
	}
}

// TestCompleteInvoke: invoke NAME completes with the functions of a real
// node and of its peers, with its bearer token; nothing when the node
// does not answer or refuses.
func TestCompleteInvoke(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("\n  completion-test-token-0123456789  \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A static peer that is not running: its functions are in the
	// directory all the same, from the config.
	addr := startNodeConfig(t, clusterConfig(t, "n", "local-fn", "  http_auth: {token_file: "+token+"}",
		"  - {name: relay, module: "+wasmbuild.ForTest(t, guests+"relay")+", pool: 1}\n"+
			"peers:\n  - {name: p, address: 'unix://"+filepath.Join(dir, "p.sock")+"', functions: [remote-fn, relay2]}\n"))

	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"invoke", "--addr", addr, "--token-file", token, ""}, []string{"local-fn", "relay", "relay2", "remote-fn"}},
		{[]string{"invoke", "--addr", addr, "--token-file", token, "re"}, []string{"relay", "relay2", "remote-fn"}},
		{[]string{"invoke", "--token-file", token, "--addr", addr, "rel"}, []string{"relay", "relay2"}},
		{[]string{"invoke", "--addr", addr, "--token-file", token, "local-fn", ""}, nil}, // one NAME only
		{[]string{"invoke", "--addr", addr, ""}, nil},                                    // no token: 401
	} {
		got, d := complete(t, tc.args...)
		if !slices.Equal(got, tc.want) || d != noFile {
			t.Errorf("complete %q: %q, directive %d; want %q, %d", tc.args, got, d, tc.want, noFile)
		}
	}
	// The token from $RRNODE_TOKEN, as invoke takes it.
	t.Setenv(tokenEnv, "completion-test-token-0123456789")
	if got, _ := complete(t, "invoke", "--addr", addr, "l"); !slices.Equal(got, []string{"local-fn"}) {
		t.Errorf("with $%s: %q", tokenEnv, got)
	}

	// Nothing listens: no candidates, and no files either.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	if got, d := complete(t, "invoke", "--addr", dead, ""); len(got) != 0 || d != noFile {
		t.Errorf("node down: %q, directive %d; want nothing, %d", got, d, noFile)
	}
}
