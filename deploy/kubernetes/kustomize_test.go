package kubernetes

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// The directories that kubectl apply -k deploys, and the base they share.
// The base sits beside the overlay, not around it: kustomize refuses an
// overlay inside its base's directory (TestNestedOverlayRefused).
const (
	privilegedDir = "."          // deploy/kubernetes: base/ as it is
	restrictedDir = "restricted" // deploy/kubernetes/restricted: base/ patched
	baseDir       = "base"
	monitoringDir = "monitoring" // deploy/kubernetes/monitoring: the PodMonitor, for clusters with the Prometheus Operator
)

// kustomization is the part of a kustomization.yaml these manifests use.
type kustomization struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Resources  []string   `json:"resources"`
	Patches    []patchRef `json:"patches"`
}

// patchRef is a kustomization's patch: a file whose kind and name say
// what it patches.
type patchRef struct {
	Path string `json:"path"`
}

// readKustomization decodes dir's kustomization.yaml strictly.
func readKustomization(t *testing.T, dir string) kustomization {
	t.Helper()
	var k kustomization
	decodeStrict(t, filepath.Join(dir, "kustomization.yaml"), mustRead(t, filepath.Join(dir, "kustomization.yaml")), &k)
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Fatalf("%s/kustomization.yaml: %s %s", dir, k.APIVersion, k.Kind)
	}
	return k
}

// docKey is a manifest's kind and name, as kustomize matches a patch to
// its target and as kustomizeBuild keys its output (the namespace is
// roadrunner throughout; checkDeployment says so).
func docKey(t *testing.T, file string, b []byte) string {
	t.Helper()
	var m struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(b, &m); err != nil || m.Kind == "" || m.Metadata.Name == "" {
		t.Fatalf("%s: no kind and name (%v)", file, err)
	}
	return m.Kind + "/" + m.Metadata.Name
}

// kustomizeBuild builds dir as kubectl apply -k does (runKustomize) and
// returns the resources it outputs, each as JSON, keyed by kind and name
// ("DaemonSet/rrnode"; the namespace is roadrunner throughout, as
// checkDeployment says).
func kustomizeBuild(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	docs, err := runKustomize(dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	return docs
}

// runKustomize builds dir with kustomize's own Go API and its default
// options, kubectl's: files loaded from within a kustomization's root
// only, no plugins. A build takes tens of milliseconds, so each test
// builds what it reads.
func runKustomize(dir string) (map[string][]byte, error) {
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, err
	}
	docs := map[string][]byte{}
	for _, r := range m.Resources() {
		k := r.GetKind() + "/" + r.GetName()
		if _, dup := docs[k]; dup {
			return nil, fmt.Errorf("a second %s", k)
		}
		if docs[k], err = r.MarshalJSON(); err != nil {
			return nil, err
		}
	}
	return docs, nil
}

// baseFiles reads the manifests base/kustomization.yaml lists, each
// converted to JSON and keyed as kustomizeBuild keys them; each file
// holds one.
func baseFiles(t *testing.T) map[string][]byte {
	t.Helper()
	docs := map[string][]byte{}
	for _, f := range readKustomization(t, baseDir).Resources {
		f = filepath.Join(baseDir, f)
		b := mustRead(t, f)
		k := docKey(t, f, b)
		if _, dup := docs[k]; dup {
			t.Fatalf("%s: a second %s", f, k)
		}
		j, err := yaml.YAMLToJSON(b)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		docs[k] = j
	}
	return docs
}

// TestKustomizations checks the layout and what kustomize makes of it:
// every manifest in base/ and every patch in restricted/ listed by its
// kustomization; both variants built by kustomize, into the objects the
// deployment needs (decodeDeployment) and no other; the privileged
// variant exactly the base's manifests as written; the restricted one
// the base's with only the objects its patches name changed, each of
// them changed (TestRestrictedOverlay checks how).
func TestKustomizations(t *testing.T) {
	for _, dir := range []string{baseDir, restrictedDir} {
		k := readKustomization(t, dir)
		listed := slices.Clone(k.Resources)
		for _, p := range k.Patches {
			listed = append(listed, p.Path)
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, f := range files {
			if b := filepath.Base(f); b != "kustomization.yaml" && !slices.Contains(listed, b) {
				t.Errorf("%s/kustomization.yaml does not list %s", dir, b)
			}
		}
	}

	// The objects each patch of the overlay names; the privileged
	// variant has none.
	patched := map[string]bool{}
	for _, p := range readKustomization(t, restrictedDir).Patches {
		f := filepath.Join(restrictedDir, p.Path)
		patched[docKey(t, f, mustRead(t, f))] = true
	}
	base := baseFiles(t)
	for _, v := range []struct {
		dir     string
		patched map[string]bool
	}{{privilegedDir, nil}, {restrictedDir, patched}} {
		docs := kustomizeBuild(t, v.dir)
		decodeDeployment(t, docs)
		if !slices.Equal(sortedKeys(docs), sortedKeys(base)) {
			t.Errorf("kustomize build %s: %q, want the base's %q", v.dir, sortedKeys(docs), sortedKeys(base))
		}
		for k, b := range base {
			got, ok := docs[k]
			switch same := ok && sameJSON(t, got, b); {
			case !ok: // said above
			case v.patched[k] && same:
				t.Errorf("kustomize build %s: %s is the base's, unpatched", v.dir, k)
			case !v.patched[k] && !same:
				t.Errorf("kustomize build %s: %s, which no patch names, is\n%s\nwant the base's as written:\n%s", v.dir, k, got, b)
			}
		}
	}
}

// TestNestedOverlayRefused builds the layout this directory had before
// base/, an overlay in a subdirectory of its base (resources: [..]), and
// expects kustomize to refuse it as kubectl apply -k did: so a test that
// builds the variants fails on that layout.
func TestNestedOverlayRefused(t *testing.T) {
	root := t.TempDir()
	copyDir(t, baseDir, root, nil)
	copyDir(t, restrictedDir, filepath.Join(root, "restricted"), strings.NewReplacer("- ../base\n", "- ..\n"))
	if !slices.Equal(readKustomization(t, filepath.Join(root, "restricted")).Resources, []string{".."}) {
		t.Fatal("the copy of restricted/kustomization.yaml does not name ..")
	}
	_, err := runKustomize(filepath.Join(root, "restricted"))
	if err == nil || !strings.Contains(err.Error(), "cycle detected") {
		t.Fatalf("kustomize build of an overlay inside its base: %v, want a cycle detected", err)
	}
}

// copyDir copies the files of dir into a new directory to, each through
// edit if not nil.
func copyDir(t *testing.T, dir, to string, edit *strings.Replacer) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(files) == 0 {
		t.Fatalf("%s: no manifests", dir)
	}
	for _, f := range files {
		b := mustRead(t, f)
		if edit != nil {
			b = []byte(edit.Replace(string(b)))
		}
		writeFile(t, filepath.Join(to, filepath.Base(f)), b)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// sameJSON reports whether a and b hold the same JSON value, whatever the
// order of their objects' keys.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(va, vb)
}
