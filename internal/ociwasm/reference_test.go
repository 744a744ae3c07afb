package ociwasm

import (
	"strings"
	"testing"
)

const d64 = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParseReference(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Reference
		err  string // a part of the error, "" for none
	}{
		{in: "oci://ghcr.io/org/fn:v1", want: Reference{Registry: "ghcr.io", Repository: "org/fn", Tag: "v1"}},
		{in: "oci://127.0.0.1:5000/fn@" + d64, want: Reference{Registry: "127.0.0.1:5000", Repository: "fn", Digest: d64}},
		{in: "oci://localhost:5000/a/b/c:1.2.3-rc_1@" + d64, want: Reference{Registry: "localhost:5000", Repository: "a/b/c", Tag: "1.2.3-rc_1", Digest: d64}},
		{in: "oci://[::1]:5000/fn:latest", want: Reference{Registry: "[::1]:5000", Repository: "fn", Tag: "latest"}},
		{in: "oci://ghcr.io/org/fn", err: `no tag or digest`},
		{in: "oci://localhost:5000/fn", err: `no implicit "latest"`},
		{in: "ghcr.io/org/fn:v1", err: "does not start with oci://"},
		{in: "oci://fn:v1", err: "want oci://REGISTRY/REPOSITORY"},
		{in: "oci:///fn:v1", err: "want oci://REGISTRY/REPOSITORY"},
		{in: "oci://ghcr.io/", err: "want oci://REGISTRY/REPOSITORY"},
		{in: "oci://ghcr.io/Org/fn:v1", err: `repository "Org/fn"`},
		{in: "oci://ghcr.io/org//fn:v1", err: `repository "org//fn"`},
		{in: "oci://ghcr.io/fn:", err: "empty tag"},
		{in: "oci://ghcr.io/fn:-x", err: `tag "-x"`},
		{in: "oci://ghcr.io/fn@sha256:abc", err: `digest "sha256:abc"`},
		{in: "oci://ghcr.io/fn@" + strings.ToUpper(d64), err: "lowercase hexadecimal"},
		{in: "oci://ghcr.io/fn@sha512:" + strings.Repeat("a", 128), err: "want sha256:"},
		{in: "oci://user@ghcr.io/fn:v1", err: `registry "user@ghcr.io"`},
		{in: "oci://ghcr io/fn:v1", err: `registry "ghcr io"`},
	} {
		got, err := ParseReference(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseReference(%q) = %+v, %v; want an error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseReference(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			continue
		}
		if got.String() != tc.in {
			t.Errorf("ParseReference(%q).String() = %q", tc.in, got.String())
		}
		if got.Pinned() != (tc.want.Digest != "") || !IsReference(tc.in) {
			t.Errorf("%q: Pinned %v, IsReference %v", tc.in, got.Pinned(), IsReference(tc.in))
		}
	}
	if IsReference("/srv/fn.wasm") {
		t.Error("IsReference of a path")
	}
}

// FuzzParseReference: what parses prints back as itself, and is a tag or
// a digest of a non-empty registry and repository.
func FuzzParseReference(f *testing.F) {
	for _, s := range []string{"oci://ghcr.io/org/fn:v1", "oci://127.0.0.1:5000/fn@" + d64, "oci://h/r:t@" + d64, "oci://h/r", "oci://h:1/a/b:c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseReference(s)
		if err != nil {
			return
		}
		if r.String() != s {
			t.Fatalf("ParseReference(%q).String() = %q", s, r.String())
		}
		if r.Registry == "" || r.Repository == "" || (r.Tag == "" && r.Digest == "") {
			t.Fatalf("ParseReference(%q) = %+v", s, r)
		}
		if r.Digest != "" && !validDigest(r.Digest) {
			t.Fatalf("ParseReference(%q): digest %q", s, r.Digest)
		}
	})
}
