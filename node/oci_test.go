package node_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/internal/ociwasm"
	"github.com/roadrunner-wasm/roadrunner/internal/testregistry"
	"github.com/roadrunner-wasm/roadrunner/internal/wasmbuild"
	"github.com/roadrunner-wasm/roadrunner/node"
)

// pushModule pushes the module file to ref on r and returns its digest.
func pushModule(t *testing.T, r *testregistry.Registry, ref string, module []byte) string {
	t.Helper()
	d, err := ociwasm.Push(context.Background(), ref, module, &ociwasm.Options{PlainHTTP: []string{r.Host}})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestOCIModules: functions from a real registry, by digest and by tag;
// a tag is resolved again at a reload (and only then), a digest never;
// with the registry down, a reload that needs it changes nothing, a node
// starts from its cache for a digest, and fails clearly without one.
func TestOCIModules(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	echo, err := os.ReadFile(wasmbuild.ForTest(t, testdata+"echo"))
	if err != nil {
		t.Fatal(err)
	}
	digest := pushModule(t, reg, "oci://"+reg.Host+"/fns/echo:v1", echo)
	cache := t.TempDir()
	cfg := `
node:
  cache_dir: {{cache}}
  registry: {plain_http: ['` + reg.Host + `'], cache_dir: ` + cache + `}
functions:
  - {name: pinned, module: 'oci://` + reg.Host + `/fns/echo@` + digest + `', pool: 1}
  - {name: tagged, module: 'oci://` + reg.Host + `/fns/echo:v1', pool: 1}
`
	n := startNode(t, cfg, nil)
	for _, f := range []string{"pinned", "tagged"} {
		if resp := n.invoke(t, f, []byte("from the registry")); resp.status != http.StatusOK || string(resp.body) != "from the registry" {
			t.Fatalf("%s: %d %q", f, resp.status, resp.body)
		}
	}
	if c := strings.Count(n.logs.String(), `"msg":"module pulled"`); c != 2 {
		t.Errorf("%d modules pulled, want 2:\n%s", c, n.logs)
	}

	// The tag moves to other bytes: nothing happens until a reload, which
	// replaces the tagged function only.
	other := append(slices.Clone(echo), 0, 3, 1, 'x', 0) // a custom section: another digest
	pushModule(t, reg, "oci://"+reg.Host+"/fns/echo:v1", other)
	if r, err := n.reload(t, cfg); err != nil || !slices.Equal(r.Replaced, []string{"tagged"}) || len(r.Added)+len(r.Removed) > 0 {
		t.Fatalf("reload after the tag moved: %+v, %v; want tagged replaced", r, err)
	}
	if r, err := n.reload(t, cfg); err != nil || r.Changed() {
		t.Fatalf("reload with the tag where it was: %+v, %v; want nothing changed", r, err)
	}

	// The registry goes down: a reload must resolve the tag, fails, and
	// changes nothing.
	reg.Close()
	if r, err := n.reload(t, cfg+"  - {name: extra, module: {{echo}}, pool: 1}\n"); err == nil {
		t.Fatalf("reload with the registry down: %+v, want an error", r)
	} else if !errors.Is(err, ociwasm.ErrUnreachable) {
		t.Errorf("reload with the registry down: %v, want ErrUnreachable", err)
	}
	if resp := n.invoke(t, "extra", []byte("x")); resp.status != http.StatusNotFound {
		t.Errorf("extra after a failed reload: %d", resp.status)
	}
	if v := n.metric(t, `rr_config_reloads_total{result="failed"}`); v != 1 {
		t.Errorf(`rr_config_reloads_total{result="failed"} = %v`, v)
	}

	// A reload that does not need the registry works: the pinned module
	// is neither pulled nor read again.
	pinnedOnly := strings.Split(cfg, "  - {name: tagged")[0]
	r, err := n.reload(t, pinnedOnly+"  - {name: extra, module: {{echo}}, pool: 1}\n")
	if err != nil || !slices.Equal(r.Added, []string{"extra"}) || !slices.Equal(r.Removed, []string{"tagged"}) || len(r.Replaced) > 0 {
		t.Fatalf("reload of a pinned module and a file with the registry down: %+v, %v", r, err)
	}
	if resp := n.invoke(t, "pinned", []byte("still")); resp.status != http.StatusOK || string(resp.body) != "still" {
		t.Errorf("pinned after the reload: %d %q", resp.status, resp.body)
	}

	// A new node, the registry still down: the digest is in the cache.
	n2 := startNode(t, pinnedOnly, nil)
	if resp := n2.invoke(t, "pinned", []byte("cached")); resp.status != http.StatusOK || string(resp.body) != "cached" {
		t.Fatalf("pinned from the cache: %d %q", resp.status, resp.body)
	}
	if !strings.Contains(n2.logs.String(), "module from the cache: pinned by digest, the registry was not asked") {
		t.Errorf("the node did not say it started from the cache:\n%s", n2.logs)
	}

	// Without the cache, it cannot start, and says why.
	empty := strings.Replace(pinnedOnly, "cache_dir: "+cache, "cache_dir: "+t.TempDir(), 1)
	path := filepath.Join(t.TempDir(), "node.yaml")
	writeNodeConfig(t, path, empty)
	c, err := node.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = node.New(context.Background(), c, &node.Options{Logger: slog.New(slog.DiscardHandler)})
	if err == nil || !errors.Is(err, ociwasm.ErrUnreachable) || !strings.Contains(err.Error(), "function pinned: pull oci://"+reg.Host) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("New with the registry down and no cache: %v", err)
	}
}
