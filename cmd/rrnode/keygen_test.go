package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/transport"
)

// TestKeygen: each run prints a fresh key that a key file takes.
func TestKeygen(t *testing.T) {
	a, b := rrnode(t, "", "keygen"), rrnode(t, "", "keygen")
	if a.code != 0 || b.code != 0 || a.err != "" {
		t.Fatalf("keygen: %d %q %q", a.code, a.out, a.err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}\n$`).MatchString(a.out) || a.out == b.out {
		t.Fatalf("keygen printed %q then %q: want two different lines of 64 hex digits", a.out, b.out)
	}
	keys, err := transport.ParseKeys([]byte(a.out + b.out))
	if err != nil || keys.Len() != 2 {
		t.Fatalf("a key file of two keygen lines: %v", err)
	}
	if r := rrnode(t, "", "keygen", "extra"); r.code != 2 {
		t.Errorf("keygen extra: exit %d, want 2 (usage)", r.code)
	}
}

// TestInvokeToken: invoke sends the token of --token-file, or of
// $RRNODE_TOKEN; without one the node answers 401.
func TestInvokeToken(t *testing.T) {
	dir := t.TempDir()
	token := transport.GenerateKey()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("\n"+token+"\nsecond-token-for-rotation\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, "")
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	withToken := strings.Replace(string(b), "node:\n", "node:\n  http_auth:\n    token_file: "+tokenFile+"\n", 1)
	if err := os.WriteFile(cfg, []byte(withToken), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := startNodeConfig(t, cfg)
	if r := rrnode(t, "", "invoke", "echo", "--addr", addr, "--data", "hi"); r.code != 1 || !strings.Contains(r.err, "401") {
		t.Errorf("without a token: exit %d, %q; want 1 and the 401", r.code, r.err)
	}
	if r := rrnode(t, "", "invoke", "echo", "--addr", addr, "--data", "hi", "--token-file", tokenFile); r.code != 0 || r.out != "hi" {
		t.Errorf("--token-file: exit %d, %q %q", r.code, r.out, r.err)
	}
	t.Setenv(tokenEnv, token)
	if r := rrnode(t, "", "invoke", "echo", "--addr", addr, "--data", "env"); r.code != 0 || r.out != "env" {
		t.Errorf("$%s: exit %d, %q %q", tokenEnv, r.code, r.out, r.err)
	}
	if r := rrnode(t, "", "invoke", "echo", "--addr", addr, "--token-file", filepath.Join(dir, "none")); r.code != 1 || !strings.Contains(r.err, "--token-file") {
		t.Errorf("a missing token file: exit %d, %q", r.code, r.err)
	}
}
