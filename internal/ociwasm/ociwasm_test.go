package ociwasm_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/roadrunner-wasm/roadrunner/internal/ociwasm"
	"github.com/roadrunner-wasm/roadrunner/internal/testcerts"
	"github.com/roadrunner-wasm/roadrunner/internal/testregistry"
	"github.com/roadrunner-wasm/roadrunner/internal/wasmbuild"
)

func TestMain(m *testing.M) {
	code := m.Run()
	wasmbuild.Cleanup()
	os.Exit(code)
}

// module is a small valid core module, distinct for each name: the header
// and one custom section called name.
func module(name string) []byte {
	b := []byte("\x00asm\x01\x00\x00\x00\x00")
	b = append(b, byte(1+len(name)), byte(len(name)))
	return append(b, name...)
}

// plain is Options for reg over plain HTTP.
func plain(reg *testregistry.Registry) *ociwasm.Options {
	return &ociwasm.Options{PlainHTTP: []string{reg.Host}, Timeout: 10 * time.Second}
}

func ref(reg *testregistry.Registry, repoRef string) string {
	return ociwasm.Scheme + reg.Host + "/" + repoRef
}

func mustPull(t *testing.T, r string, o *ociwasm.Options) *ociwasm.Module {
	t.Helper()
	m, err := ociwasm.Pull(context.Background(), r, o)
	if err != nil {
		t.Fatalf("Pull(%s): %v", r, err)
	}
	return m
}

func mustPush(t *testing.T, r string, mod []byte, o *ociwasm.Options) string {
	t.Helper()
	d, err := ociwasm.Push(context.Background(), r, mod, o)
	if err != nil {
		t.Fatalf("Push(%s): %v", r, err)
	}
	return d
}

// wantErr fails unless err wraps sentinel and says each of parts.
func wantErr(t *testing.T, what string, err, sentinel error, parts ...string) {
	t.Helper()
	t.Logf("%s: %v", what, err)
	if !errors.Is(err, sentinel) {
		t.Fatalf("%s: %v; want %v", what, err, sentinel)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %q does not say %q", what, err, p)
		}
	}
}

// TestPushPull: a real module pushed by tag pulls back by tag and by
// digest, byte for byte, in the CNCF Wasm layout; pushing it again gives
// the same digest.
func TestPushPull(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	o := plain(reg)
	echo := wasmbuild.ModuleForTest(t, "github.com/roadrunner-wasm/roadrunner/node/testdata/echo")
	d := mustPush(t, ref(reg, "fn/echo:v1"), echo, o)
	if again := mustPush(t, ref(reg, "fn/echo:v2"), echo, o); again != d {
		t.Errorf("the same module pushed twice: %s then %s", d, again)
	}
	for _, r := range []string{ref(reg, "fn/echo:v1"), ref(reg, "fn/echo@"+d), ref(reg, "fn/echo:v2")} {
		m := mustPull(t, r, o)
		if !bytes.Equal(m.Bytes, echo) || m.Digest != d || m.FromCache || m.Reference != ref(reg, "fn/echo@"+d) || m.Layer != digest.FromBytes(echo).String() {
			t.Errorf("Pull(%s) = %d bytes, %s, %s, %s, cache %v", r, len(m.Bytes), m.Digest, m.Layer, m.Reference, m.FromCache)
		}
	}

	// The layout, as a registry's client sees it.
	repo := repository(t, reg, "fn/echo")
	desc, rc, err := repo.FetchReference(context.Background(), "v1")
	if err != nil {
		t.Fatal(err)
	}
	var man ocispec.Manifest
	if err := json.NewDecoder(rc).Decode(&man); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if desc.MediaType != ocispec.MediaTypeImageManifest || man.Config.MediaType != ociwasm.ConfigMediaType ||
		len(man.Layers) != 1 || man.Layers[0].MediaType != ociwasm.LayerMediaType || man.Layers[0].Size != int64(len(echo)) {
		t.Fatalf("manifest %s: %+v", desc.MediaType, man)
	}
	rc, err = repo.Fetch(context.Background(), man.Config)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.NewDecoder(rc).Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if cfg["architecture"] != "wasm" || cfg["os"] != "wasip1" || fmt.Sprint(cfg["layerDigests"]) != fmt.Sprint([]any{string(man.Layers[0].Digest)}) || cfg["created"] == nil {
		t.Errorf("config: %v", cfg)
	}
}

// TestPushPinned: a reference pinned by digest pushes when the digest is
// the artifact's, and is refused otherwise; what is not a core module is
// refused before the network.
func TestPushPinned(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	o := plain(reg)
	mod := module("pinned")
	d := mustPush(t, ref(reg, "p:t"), mod, o)
	if got := mustPush(t, ref(reg, "q@"+d), mod, o); got != d {
		t.Errorf("pushed by its digest: %s, want %s", got, d)
	}
	if m := mustPull(t, ref(reg, "q@"+d), o); !bytes.Equal(m.Bytes, mod) {
		t.Error("pulled back another module")
	}
	other := "sha256:" + strings.Repeat("0", 64)
	_, err := ociwasm.Push(context.Background(), ref(reg, "q@"+other), mod, o)
	wantErr(t, "push under another digest", err, ociwasm.ErrDigestMismatch, d)
	_, err = ociwasm.Push(context.Background(), ref(reg, "q:t"), []byte("#!/bin/sh\n"), o)
	wantErr(t, "push a script", err, ociwasm.ErrNotModule, "magic")
	_, err = ociwasm.Push(context.Background(), ref(reg, "q:t"), []byte("\x00asm\x0d\x00\x01\x00"), o)
	wantErr(t, "push a component", err, ociwasm.ErrNotModule, "component")
	_, err = ociwasm.Push(context.Background(), ociwasm.Scheme+reg.Host+"/q", mod, o)
	if err == nil || !strings.Contains(err.Error(), "no tag or digest") {
		t.Errorf("push without a tag: %v", err)
	}
}

// TestHTTPS: a registry over HTTPS with its CA in CAFile; without it, or
// with another CA, the handshake is refused and the error says so; HTTPS
// to a plain HTTP registry says to list it in plain_http.
func TestHTTPS(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{TLS: true})
	o := &ociwasm.Options{CAFile: reg.CAFile}
	mod := module("tls")
	d := mustPush(t, ref(reg, "tls:v1"), mod, o)
	if m := mustPull(t, ref(reg, "tls@"+d), o); !bytes.Equal(m.Bytes, mod) {
		t.Error("pulled back another module over HTTPS")
	}
	wrong := testcerts.NewCA(t, t.TempDir(), "wrong")
	for name, o := range map[string]*ociwasm.Options{"no CA": {}, "a wrong CA": {CAFile: wrong.File}} {
		_, err := ociwasm.Pull(context.Background(), ref(reg, "tls:v1"), o)
		wantErr(t, name, err, ociwasm.ErrUnreachable, "certificate signed by unknown authority", "ca_file", reg.Host)
		_, err = ociwasm.Push(context.Background(), ref(reg, "tls:v2"), mod, o)
		wantErr(t, name+" (push)", err, ociwasm.ErrUnreachable, "certificate signed by unknown authority")
	}
	_, err := ociwasm.Pull(context.Background(), ref(reg, "tls:v1"), &ociwasm.Options{CAFile: filepath.Join(t.TempDir(), "none.pem")})
	if err == nil || !strings.Contains(err.Error(), "ca_file") {
		t.Errorf("a missing ca_file: %v", err)
	}

	plainReg := testregistry.Start(t, testregistry.Options{})
	_, err = ociwasm.Pull(context.Background(), ref(plainReg, "x:v1"), nil)
	wantErr(t, "HTTPS to a plain registry", err, ociwasm.ErrUnreachable, "plain_http")
}

// TestAuth: a registry answering 401 without credentials, 200 with the
// AuthFile's.
func TestAuth(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{User: "fn", Password: "s3cret"})
	mod := module("auth")
	anon := plain(reg)
	_, err := ociwasm.Push(context.Background(), ref(reg, "a:v1"), mod, anon)
	wantErr(t, "push without credentials", err, ociwasm.ErrUnauthorized, "auth_file")
	o := plain(reg)
	o.AuthFile = reg.AuthFile
	d := mustPush(t, ref(reg, "a:v1"), mod, o)
	_, err = ociwasm.Pull(context.Background(), ref(reg, "a@"+d), anon)
	wantErr(t, "pull without credentials", err, ociwasm.ErrUnauthorized, "auth_file", reg.Host)
	if m := mustPull(t, ref(reg, "a@"+d), o); !bytes.Equal(m.Bytes, mod) {
		t.Error("pulled back another module")
	}

	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bad := plain(reg)
	bad.AuthFile = write("wrong.json", `{"auths": {"`+reg.Host+`": {"username": "fn", "password": "wrong"}}}`)
	_, err = ociwasm.Pull(context.Background(), ref(reg, "a:v1"), bad)
	wantErr(t, "pull with a wrong password", err, ociwasm.ErrUnauthorized, "401")
	for file, want := range map[string]string{
		write("helper.json", `{"auths": {}, "credsStore": "desktop"}`):     "credential helper",
		write("legacy.json", `{"`+reg.Host+`": {"auth": "Zm46czNjcmV0"}}`): "legacy",
		write("broken.json", `{"auths": `):                                 "not a Docker config.json",
		filepath.Join(dir, "none.json"):                                    "no such file",
	} {
		o := plain(reg)
		o.AuthFile = file
		_, err := ociwasm.Pull(context.Background(), ref(reg, "a:v1"), o)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "auth_file") {
			t.Errorf("auth_file %s: %v; want %q", filepath.Base(file), err, want)
		}
	}
}

// repository is an oras-go client of reg's repo, for tests to publish
// what Push would not.
func repository(t *testing.T, reg *testregistry.Registry, repo string) *remote.Repository {
	t.Helper()
	return &remote.Repository{Reference: registry.Reference{Registry: reg.Host, Repository: repo}, PlainHTTP: true}
}

// blob is content to push with its media type.
type blob struct {
	mediaType string
	content   []byte
}

// publish pushes a manifest of mediaType with config and layers to reg's
// repo under tag, and returns its digest.
func publish(t *testing.T, reg *testregistry.Registry, repo, tag, mediaType string, config blob, layers ...blob) string {
	t.Helper()
	ctx := context.Background()
	r := repository(t, reg, repo)
	push := func(b blob) ocispec.Descriptor {
		d := ocispec.Descriptor{MediaType: b.mediaType, Digest: digest.FromBytes(b.content), Size: int64(len(b.content))}
		if err := r.Push(ctx, d, bytes.NewReader(b.content)); err != nil {
			t.Fatal(err)
		}
		return d
	}
	man := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: mediaType, Config: push(config), Layers: []ocispec.Descriptor{}}
	for _, l := range layers {
		man.Layers = append(man.Layers, push(l))
	}
	b, _ := json.Marshal(man)
	d := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(b), Size: int64(len(b))}
	if err := r.PushReference(ctx, d, bytes.NewReader(b), tag); err != nil {
		t.Fatal(err)
	}
	return d.Digest.String()
}

// TestLayouts: what Pull takes and refuses among the manifests a registry
// can hold.
func TestLayouts(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	o := plain(reg)
	mod := module("layouts")
	wasmConfig := blob{ociwasm.ConfigMediaType, []byte(`{"architecture":"wasm","os":"wasip1"}`)}
	imageConfig := blob{ocispec.MediaTypeImageConfig, []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)}
	for _, tc := range []struct {
		name, mediaType string
		config          blob
		layers          []blob
		err             error
		says            string
	}{
		{name: "wasm", mediaType: ocispec.MediaTypeImageManifest, config: wasmConfig, layers: []blob{{ociwasm.LayerMediaType, mod}}},
		{name: "oci-image", mediaType: ocispec.MediaTypeImageManifest, config: imageConfig, layers: []blob{{ocispec.MediaTypeImageLayer, mod}}},
		{name: "oras-default", mediaType: ocispec.MediaTypeImageManifest, config: blob{"application/vnd.unknown.config.v1+json", []byte("{}")}, layers: []blob{{"application/vnd.oci.image.layer.v1.tar", mod}}},
		{name: "docker", mediaType: "application/vnd.docker.distribution.manifest.v2+json", config: blob{"application/vnd.docker.container.image.v1+json", imageConfig.content}, layers: []blob{{"application/vnd.docker.image.rootfs.diff.tar.gzip", mod}}},
		{name: "two-layers", mediaType: ocispec.MediaTypeImageManifest, config: wasmConfig, layers: []blob{{ociwasm.LayerMediaType, mod}, {ociwasm.LayerMediaType, module("second")}}, err: ociwasm.ErrNotModule, says: "2 layers"},
		{name: "no-layer", mediaType: ocispec.MediaTypeImageManifest, config: wasmConfig, err: ociwasm.ErrNotModule, says: "0 layers"},
		{name: "text-layer", mediaType: ocispec.MediaTypeImageManifest, config: wasmConfig, layers: []blob{{ociwasm.LayerMediaType, []byte("this is not wasm at all")}}, err: ociwasm.ErrNotModule, says: "magic"},
		{name: "component", mediaType: ocispec.MediaTypeImageManifest, config: wasmConfig, layers: []blob{{ociwasm.LayerMediaType, []byte("\x00asm\x0d\x00\x01\x00")}}, err: ociwasm.ErrNotModule, says: "component"},
		{name: "tiny", mediaType: ocispec.MediaTypeImageManifest, config: wasmConfig, layers: []blob{{ociwasm.LayerMediaType, []byte("\x00asm")}}, err: ociwasm.ErrNotModule, says: "too small"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := publish(t, reg, "layouts/"+tc.name, "v1", tc.mediaType, tc.config, tc.layers...)
			for _, r := range []string{ref(reg, "layouts/"+tc.name+":v1"), ref(reg, "layouts/"+tc.name+"@"+d)} {
				m, err := ociwasm.Pull(context.Background(), r, o)
				if tc.err == nil {
					if err != nil || !bytes.Equal(m.Bytes, mod) || m.Digest != d {
						t.Fatalf("Pull(%s): %v", r, err)
					}
					continue
				}
				wantErr(t, r, err, tc.err, tc.says, r)
			}
		})
	}

	// An index: refused with what to do.
	ctx := context.Background()
	d := publish(t, reg, "layouts/index", "one", ocispec.MediaTypeImageManifest, wasmConfig, blob{ociwasm.LayerMediaType, mod})
	r := repository(t, reg, "layouts/index")
	idx, _ := json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.Digest(d), Size: 1}}})
	if err := r.PushReference(ctx, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: digest.FromBytes(idx), Size: int64(len(idx))}, bytes.NewReader(idx), "multi"); err != nil {
		t.Fatal(err)
	}
	_, err := ociwasm.Pull(ctx, ref(reg, "layouts/index:multi"), o)
	wantErr(t, "an index", err, ociwasm.ErrNotModule, "index", "pin the digest")
	_, err = ociwasm.Pull(ctx, ref(reg, "layouts/index:absent"), o)
	if err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("an absent tag: %v", err)
	}
}

// TestDigestMismatch: a registry that sends content other than the digest
// names, for the manifest and for the layer.
func TestDigestMismatch(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	o := plain(reg)
	mod := module("mismatch")
	d := mustPush(t, ref(reg, "m:v1"), mod, o)

	// The registry stores a manifest PUT under a digest that is not its
	// own, and sends it when asked for that digest.
	man := fetchRaw(t, reg, "m", d)
	liar := "sha256:" + strings.Repeat("ab", 32)
	req, _ := http.NewRequest(http.MethodPut, "http://"+reg.Host+"/v2/m/manifests/"+liar, bytes.NewReader(man))
	req.Header.Set("Content-Type", ocispec.MediaTypeImageManifest)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT a manifest under another digest: %v %v", resp, err)
	}
	resp.Body.Close()
	if !bytes.Equal(fetchRaw(t, reg, "m", liar), man) {
		t.Fatal("the registry does not serve the manifest under the wrong digest")
	}
	_, err = ociwasm.Pull(context.Background(), ref(reg, "m@"+liar), o)
	wantErr(t, "a manifest under another digest", err, ociwasm.ErrDigestMismatch, d, liar)

	// A layer corrupted in the registry's storage, same size.
	corrupt(t, filepath.Join(reg.BlobDir, "sha256", strings.TrimPrefix(digest.FromBytes(mod).String(), "sha256:")))
	for _, r := range []string{ref(reg, "m:v1"), ref(reg, "m@"+d)} {
		_, err = ociwasm.Pull(context.Background(), r, o)
		wantErr(t, "a corrupted layer", err, ociwasm.ErrDigestMismatch, digest.FromBytes(mod).String())
	}
}

// fetchRaw is the manifest reg holds for repo:ref, as it sends it.
func fetchRaw(t *testing.T, reg *testregistry.Registry, repo, ref string) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+reg.Host+"/v2/"+repo+"/manifests/"+ref, nil)
	req.Header.Set("Accept", ocispec.MediaTypeImageManifest)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/%s: %s %v", repo, ref, resp.Status, err)
	}
	return b
}

// corrupt flips the last byte of file, keeping its size.
func corrupt(t *testing.T, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 0xff
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func cachedBlob(dir, d string) string {
	return filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(d, "sha256:"))
}

// TestCache: a pinned reference is served from the cache, registry down or
// not; a tag is always resolved at the registry; a corrupt cached blob is
// fetched again, or the pull fails with the registry down.
func TestCache(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	o := plain(reg)
	o.CacheDir = t.TempDir()
	a, b := module("a"), module("b")
	da := mustPush(t, ref(reg, "c:v1"), a, o)
	if m := mustPull(t, ref(reg, "c@"+da), o); m.FromCache || !bytes.Equal(m.Bytes, a) {
		t.Fatalf("first pull: from cache %v", m.FromCache)
	}
	if m := mustPull(t, ref(reg, "c@"+da), o); !m.FromCache || !bytes.Equal(m.Bytes, a) || m.Digest != da || m.Layer != digest.FromBytes(a).String() || m.Reference != ref(reg, "c@"+da) {
		t.Fatalf("second pull: from cache %v, %s %s %s", m.FromCache, m.Digest, m.Layer, m.Reference)
	}
	if m := mustPull(t, ref(reg, "c:v1@"+da), o); !m.FromCache || m.Reference != ref(reg, "c@"+da) {
		t.Fatalf("tag and digest: from cache %v, %s", m.FromCache, m.Reference)
	}
	for _, d := range []string{da, digest.FromBytes(a).String()} {
		fi, err := os.Stat(cachedBlob(o.CacheDir, d))
		if err != nil || fi.Mode().Perm()&0o022 != 0 {
			t.Errorf("cached %s: %v %v", d, fi, err)
		}
	}

	// A tag moves: the registry is asked, never the cache.
	db := mustPush(t, ref(reg, "c:v1"), b, o)
	if m := mustPull(t, ref(reg, "c:v1"), o); m.FromCache || !bytes.Equal(m.Bytes, b) || m.Digest != db {
		t.Fatalf("a moved tag: from cache %v, %s, want %s", m.FromCache, m.Digest, db)
	}

	// A corrupt cached layer, registry up: fetched again.
	layer := cachedBlob(o.CacheDir, digest.FromBytes(a).String())
	corrupt(t, layer)
	if m := mustPull(t, ref(reg, "c@"+da), o); m.FromCache || !bytes.Equal(m.Bytes, a) {
		t.Fatalf("a corrupt cached layer: from cache %v", m.FromCache)
	}
	if m := mustPull(t, ref(reg, "c@"+da), o); !m.FromCache {
		t.Fatal("the cache was not repaired")
	}

	// Registry down: the pinned and cached reference pulls; a tag, an
	// uncached digest and a corrupt cache entry do not, and say why.
	reg.Close()
	if m := mustPull(t, ref(reg, "c@"+da), o); !m.FromCache || !bytes.Equal(m.Bytes, a) {
		t.Fatalf("registry down: from cache %v", m.FromCache)
	}
	_, err := ociwasm.Pull(context.Background(), ref(reg, "c:v1"), o)
	wantErr(t, "a tag, registry down", err, ociwasm.ErrUnreachable, reg.Host, "connection refused")
	missing := "sha256:" + strings.Repeat("cd", 32)
	_, err = ociwasm.Pull(context.Background(), ref(reg, "c@"+missing), o)
	wantErr(t, "an uncached digest, registry down", err, ociwasm.ErrUnreachable, reg.Host, missing)
	corrupt(t, cachedBlob(o.CacheDir, da))
	_, err = ociwasm.Pull(context.Background(), ref(reg, "c@"+da), o)
	wantErr(t, "a corrupt cached manifest, registry down", err, ociwasm.ErrUnreachable, "corrupt")
	if _, err := os.Stat(cachedBlob(o.CacheDir, da)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the corrupt cached manifest is still there: %v", err)
	}
}

// TestStalled: a registry that accepts the connection and never answers is
// given up after Timeout.
func TestStalled(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	host := ln.Addr().String()
	o := &ociwasm.Options{PlainHTTP: []string{host}, Timeout: 200 * time.Millisecond}
	start := time.Now()
	_, err = ociwasm.Pull(context.Background(), ociwasm.Scheme+host+"/s:v1", o)
	wantErr(t, "a silent registry", err, ociwasm.ErrUnreachable, host)
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("gave up after %v, Timeout 200ms", el)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err = ociwasm.Pull(ctx, ociwasm.Scheme+host+"/s:v1", o); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled pull: %v", err)
	}
}
