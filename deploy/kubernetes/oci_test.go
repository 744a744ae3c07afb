package kubernetes

import (
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/roadrunner-wasm/roadrunner/internal/ociwasm"
	"github.com/roadrunner-wasm/roadrunner/node"
)

const (
	ociDir      = "oci"                   // deploy/kubernetes/oci: base/ with its modules in a registry
	registryDir = "/etc/rrnode/registry/" // where oci/ mounts the rrnode-registry Secret
)

// TestOCIOverlay builds deploy/kubernetes/oci with kustomize and checks
// it: the base's objects, only the two ConfigMaps and the two workloads
// changed; each config the base's but for its modules, every one an
// oci:// reference pinned by digest, and node.registry.auth_file, which
// names the .dockerconfigjson of the rrnode-registry Secret where both
// workloads mount it.
func TestOCIOverlay(t *testing.T) {
	k := readKustomization(t, ociDir)
	files, _ := filepath.Glob(filepath.Join(ociDir, "*.yaml"))
	for _, f := range files {
		b := filepath.Base(f)
		if b != "kustomization.yaml" && !slices.ContainsFunc(k.Patches, func(p patchRef) bool { return p.Path == b }) {
			t.Errorf("%s/kustomization.yaml does not list %s", ociDir, b)
		}
	}
	docs := kustomizeBuild(t, ociDir)
	d := decodeDeployment(t, docs)
	base := baseFiles(t)
	changed := []string{"ConfigMap/rrnode-back-config", "ConfigMap/rrnode-config", "DaemonSet/rrnode", "Deployment/rrnode-back"}
	for key, b := range base {
		same := sameJSON(t, docs[key], b)
		if want := !slices.Contains(changed, key); same != want {
			t.Errorf("kustomize build %s: %s the base's: %v, want %v", ociDir, key, same, want)
		}
	}

	baseD := decodeDeployment(t, kustomizeBuild(t, privilegedDir))
	for _, c := range []struct {
		name      string
		cm, basCM *corev1.ConfigMap
	}{{"rrnode-config", &d.cm, &baseD.cm}, {"rrnode-back-config", &d.backCM, &baseD.backCM}} {
		cfg := parseOCIConfig(t, c.name, c.cm.Data["rrnode.yaml"])
		want := parseNodeConfig(t, c.name+" (base)", c.basCM.Data["rrnode.yaml"]).Config
		if len(cfg.Functions) != len(want.Functions) {
			t.Fatalf("%s: functions %+v, want the base's %+v", c.name, cfg.Functions, want.Functions)
		}
		for i, f := range cfg.Functions {
			r, err := ociwasm.ParseReference(f.Module)
			if err != nil || !r.Pinned() || !strings.HasSuffix(r.Repository, "/"+f.Name) {
				t.Errorf("%s: function %s: module %q (%v): want an oci:// reference pinned by digest, of a repository named after it", c.name, f.Name, f.Module, err)
			}
			f.Module = want.Functions[i].Module
			if f != want.Functions[i] {
				t.Errorf("%s: function %+v, want the base's %+v but for its module", c.name, f, want.Functions[i])
			}
		}
		if cfg.Node.Registry.AuthFile != registryDir+".dockerconfigjson" {
			t.Errorf("%s: node.registry.auth_file %q, want %s.dockerconfigjson", c.name, cfg.Node.Registry.AuthFile, registryDir)
		}
		got, wantNode := cfg.Node, want.Node
		got.Registry, got.Auth, got.HTTPAuth, wantNode.Auth, wantNode.HTTPAuth = node.RegistryConfig{}, node.AuthConfig{}, node.HTTPAuthConfig{}, node.AuthConfig{}, node.HTTPAuthConfig{}
		if !reflect.DeepEqual(got, wantNode) || !reflect.DeepEqual(cfg.Cluster, want.Cluster) || !reflect.DeepEqual(cfg.Peers, want.Peers) {
			t.Errorf("%s: the node, cluster or peers sections differ from the base's:\n%+v\nwant\n%+v", c.name, cfg, want)
		}
	}
	for _, w := range []struct {
		name string
		spec corev1.PodSpec
	}{{"DaemonSet/rrnode", d.ds.Spec.Template.Spec}, {"Deployment/rrnode-back", d.back.Spec.Template.Spec}} {
		checkRegistryMount(t, w.name, w.spec)
	}
}

// checkRegistryMount checks that spec mounts the rrnode-registry Secret's
// .dockerconfigjson, read-only, at registryDir.
func checkRegistryMount(t *testing.T, name string, spec corev1.PodSpec) {
	t.Helper()
	var vol string
	for _, v := range spec.Volumes {
		if s := v.Secret; s != nil && s.SecretName == "rrnode-registry" {
			if len(s.Items) != 1 || s.Items[0].Key != corev1.DockerConfigJsonKey || s.Items[0].Path != corev1.DockerConfigJsonKey {
				t.Errorf("%s: volume %s: items %+v, want %s only", name, v.Name, s.Items, corev1.DockerConfigJsonKey)
			}
			vol = v.Name
		}
	}
	if vol == "" {
		t.Fatalf("%s: no volume of the Secret rrnode-registry", name)
	}
	for _, c := range spec.Containers {
		if c.Name != "rrnode" {
			continue
		}
		for _, m := range c.VolumeMounts {
			if m.Name == vol {
				if m.MountPath+"/" != registryDir || !m.ReadOnly {
					t.Errorf("%s: %s mounted at %s (read-only %v), want %s read-only", name, vol, m.MountPath, m.ReadOnly, registryDir)
				}
				return
			}
		}
	}
	t.Errorf("%s: the rrnode container does not mount %s", name, vol)
}

// parseOCIConfig parses a node config whose modules are oci:// references
// and whose registry credentials are under registryDir: a stand-in
// credentials file takes its place, as parseNodeConfig does for the
// image's modules and the auth Secret.
func parseOCIConfig(t *testing.T, name, text string) *node.Config {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, ".dockerconfigjson"), []byte(`{"auths":{}}`))
	cfg := parseNodeConfig(t, name, strings.ReplaceAll(text, registryDir, dir+"/")).Config
	cfg.Node.Registry.AuthFile = strings.Replace(cfg.Node.Registry.AuthFile, dir+"/", registryDir, 1)
	return cfg
}
