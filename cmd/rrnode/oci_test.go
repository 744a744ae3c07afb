package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/internal/testregistry"
	"github.com/roadrunner-wasm/roadrunner/internal/wasmbuild"
)

// TestPushPull: rrnode push then rrnode pull, by the pinned reference and
// by the tag, give back the module, over plain HTTP and over HTTPS with
// credentials.
func TestPushPull(t *testing.T) {
	module := wasmbuild.ForTest(t, guests+"echo")
	want, err := os.ReadFile(module)
	if err != nil {
		t.Fatal(err)
	}
	plain := testregistry.Start(t, testregistry.Options{})
	secure := testregistry.Start(t, testregistry.Options{TLS: true, User: "ci", Password: "pw"})
	for _, tc := range []struct {
		name  string
		reg   *testregistry.Registry
		flags []string
	}{
		{"http", plain, []string{"--plain-http"}},
		{"https", secure, []string{"--ca-file", secure.CAFile, "--auth-file", secure.AuthFile}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tag := "oci://" + tc.reg.Host + "/fn/echo:v1"
			r := rrnode(t, "", append([]string{"push", module, tag}, tc.flags...)...)
			m := regexp.MustCompile(`^digest: (sha256:[0-9a-f]{64})\nreference: (\S+)\n$`).FindStringSubmatch(r.out)
			if r.code != 0 || m == nil || m[2] != "oci://"+tc.reg.Host+"/fn/echo@"+m[1] {
				t.Fatalf("push: exit %d, %q %q", r.code, r.out, r.err)
			}
			digest, pinned := m[1], m[2]

			r = rrnode(t, "", append([]string{"push", module, tag, "-o", "json"}, tc.flags...)...)
			var pr pushReport
			if r.code != 0 || json.Unmarshal([]byte(r.out), &pr) != nil || pr != (pushReport{digest, pinned, len(want)}) {
				t.Fatalf("push -o json: exit %d, %q %q", r.code, r.out, r.err)
			}

			file := filepath.Join(t.TempDir(), "echo.wasm")
			r = rrnode(t, "", append([]string{"pull", pinned, file, "-o", "json"}, tc.flags...)...)
			var pl pullReport
			if r.code != 0 || json.Unmarshal([]byte(r.out), &pl) != nil || pl.Digest != digest || pl.Reference != pinned || pl.Size != len(want) || pl.File != file || !strings.HasPrefix(pl.Layer, "sha256:") {
				t.Fatalf("pull -o json: exit %d, %q %q", r.code, r.out, r.err)
			}
			if got, err := os.ReadFile(file); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("pulled file: %d bytes, %v; want the %d of the module", len(got), err, len(want))
			}

			other := filepath.Join(t.TempDir(), "by-tag.wasm")
			r = rrnode(t, "", append([]string{"pull", tag, other}, tc.flags...)...)
			if r.code != 0 || r.out != "digest: "+digest+"\nsize: "+strconv.Itoa(len(want))+"\nreference: "+pinned+"\n" {
				t.Fatalf("pull by tag: exit %d, %q %q", r.code, r.out, r.err)
			}
			if got, _ := os.ReadFile(other); !bytes.Equal(got, want) {
				t.Fatal("pulled by tag: another module")
			}
		})
	}

	// Without the credentials: exit 1, the error says what to set, and
	// no file is written.
	file := filepath.Join(t.TempDir(), "none.wasm")
	r := rrnode(t, "", "pull", "oci://"+secure.Host+"/fn/echo:v1", file, "--ca-file", secure.CAFile)
	if r.code != 1 || !strings.Contains(r.err, "--auth-file") {
		t.Errorf("pull without --auth-file: exit %d, %q", r.code, r.err)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("a failed pull wrote %s: %v", file, err)
	}
	r = rrnode(t, "", "pull", "oci://"+secure.Host+"/fn/echo:v1", file, "--auth-file", secure.AuthFile)
	if r.code != 1 || !strings.Contains(r.err, "certificate signed by unknown authority") || !strings.Contains(r.err, "--ca-file") {
		t.Errorf("pull without --ca-file: exit %d, %q", r.code, r.err)
	}
	r = rrnode(t, "", "push", filepath.Join(t.TempDir(), "absent.wasm"), "oci://"+plain.Host+"/x:v1", "--plain-http")
	if r.code != 1 || !strings.Contains(r.err, "absent.wasm") {
		t.Errorf("push of a missing file: exit %d, %q", r.code, r.err)
	}
}

// TestPushPullUsage: command lines that do not parse exit 2.
func TestPushPullUsage(t *testing.T) {
	for _, args := range [][]string{
		{"push", "fn.wasm"},
		{"pull", "oci://127.0.0.1:1/fn:v1"},
		{"push", "oci://127.0.0.1:1/fn:v1", "fn.wasm"},
		{"pull", "fn.wasm", "oci://127.0.0.1:1/fn:v1"},
		{"push", "fn.wasm", "oci://127.0.0.1:1/fn"},
		{"pull", "oci://127.0.0.1:1/Fn:v1", "fn.wasm"},
		{"pull", "oci://127.0.0.1:1/fn:v1", "fn.wasm", "-o", "yaml"},
		{"push", "fn.wasm", "oci://127.0.0.1:1/fn:v1", "--plain-https"},
	} {
		if r := rrnode(t, "", args...); r.code != 2 || r.err == "" {
			t.Errorf("rrnode %s: exit %d, %q; want 2 (usage)", strings.Join(args, " "), r.code, r.err)
		}
	}
}
