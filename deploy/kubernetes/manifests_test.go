package kubernetes

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/roadrunner-wasm/roadrunner/node"
)

// decodeStrict decodes one manifest into v, refusing unknown and
// duplicate fields.
func decodeStrict(t *testing.T, file string, v any) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

// TestManifests decodes every manifest strictly against its Kubernetes
// type, and checks what ties them together: the kustomization lists every
// file, the selectors match the pod labels, the ports and probes agree,
// the config the ConfigMap carries is a valid node config, and the pod
// mounts the host's bpffs for the sockmap.
func TestManifests(t *testing.T) {
	var ns corev1.Namespace
	decodeStrict(t, "namespace.yaml", &ns)
	var cm corev1.ConfigMap
	decodeStrict(t, "configmap.yaml", &cm)
	var svc corev1.Service
	decodeStrict(t, "service.yaml", &svc)
	var ds appsv1.DaemonSet
	decodeStrict(t, "daemonset.yaml", &ds)

	for _, m := range []struct {
		file, kind, apiVersion, gotKind, gotAPI, namespace string
	}{
		{"namespace.yaml", "Namespace", "v1", ns.Kind, ns.APIVersion, ns.Name},
		{"configmap.yaml", "ConfigMap", "v1", cm.Kind, cm.APIVersion, cm.Namespace},
		{"service.yaml", "Service", "v1", svc.Kind, svc.APIVersion, svc.Namespace},
		{"daemonset.yaml", "DaemonSet", "apps/v1", ds.Kind, ds.APIVersion, ds.Namespace},
	} {
		if m.gotKind != m.kind || m.gotAPI != m.apiVersion || m.namespace != "roadrunner" {
			t.Errorf("%s: %s %s in %q, want %s %s in roadrunner", m.file, m.gotAPI, m.gotKind, m.namespace, m.apiVersion, m.kind)
		}
	}

	var kust struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Resources  []string `json:"resources"`
	}
	decodeStrict(t, "kustomization.yaml", &kust)
	files, _ := filepath.Glob("*.yaml")
	for _, f := range files {
		if f != "kustomization.yaml" && !slices.Contains(kust.Resources, f) {
			t.Errorf("kustomization.yaml does not list %s", f)
		}
	}

	pod := ds.Spec.Template
	sel, err := labels.ValidatedSelectorFromSet(ds.Spec.Selector.MatchLabels)
	if err != nil || !sel.Matches(labels.Set(pod.Labels)) {
		t.Errorf("the DaemonSet's selector %v does not match its pods' labels %v (%v)", ds.Spec.Selector.MatchLabels, pod.Labels, err)
	}
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(pod.Labels)) || svc.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("the Service is not headless over the pods: selector %v, clusterIP %q", svc.Spec.Selector, svc.Spec.ClusterIP)
	}
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["http"] != 8080 || ports["transport"] != 7070 {
		t.Errorf("container ports %v, want http 8080 (node.http) and transport 7070 (node.listen.tcp)", ports)
	}
	for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" || p.HTTPGet.Port.String() != "http" {
			t.Errorf("probe %+v, want GET /healthz on http", p)
		}
	}
	if a := pod.Annotations; a["prometheus.io/scrape"] != "true" || a["prometheus.io/port"] != "8080" || a["prometheus.io/path"] != "/metrics" {
		t.Errorf("scrape annotations %v", a)
	}
	sc := c.SecurityContext
	if sc == nil || sc.Capabilities == nil || sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeUnconfined {
		t.Fatalf("securityContext %+v: want capabilities and seccomp Unconfined (io_uring)", sc)
	}
	for _, cp := range []corev1.Capability{"BPF", "NET_ADMIN"} {
		if !slices.Contains(sc.Capabilities.Add, cp) {
			t.Errorf("capability %s not added (the sockmap needs it)", cp)
		}
	}

	// The config: valid for rrnode, read from where the pod mounts it.
	cfgText, ok := cm.Data["rrnode.yaml"]
	if !ok {
		t.Fatal("configmap.yaml has no rrnode.yaml")
	}
	// The modules are in the image (Dockerfile); here, empty stand-ins
	// under a temporary directory take their place, so that ParseConfig's
	// check that each module exists passes on everything else.
	const wasmDir = "/usr/share/rrnode/wasm/"
	dir := t.TempDir()
	for _, f := range []string{"producer", "transform", "consumer"} {
		if err := os.WriteFile(filepath.Join(dir, f+".wasm"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := node.ParseConfig([]byte(strings.ReplaceAll(cfgText, wasmDir, dir+"/")), "configmap.yaml:rrnode.yaml")
	if err != nil {
		t.Fatalf("the ConfigMap's node config: %v", err)
	}
	if cfg.Node.HTTP != "0.0.0.0:8080" || cfg.Node.Listen.TCP != "0.0.0.0:7070" {
		t.Errorf("node.http %q, node.listen.tcp %q: want the container ports", cfg.Node.HTTP, cfg.Node.Listen.TCP)
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m
	}
	var configArg string
	for i, a := range c.Args {
		if a == "--config" && i+1 < len(c.Args) {
			configArg = c.Args[i+1]
		}
	}
	if m, ok := mounts["config"]; !ok || configArg != m.MountPath+"/rrnode.yaml" {
		t.Errorf("--config %q is not the mounted ConfigMap's rrnode.yaml (%+v)", configArg, m)
	}
	if m, ok := mounts["bpffs"]; !ok || !strings.HasPrefix(cfg.Node.SockmapPinDir, m.MountPath+"/") {
		t.Errorf("sockmap_pin_dir %q is not under the bpffs mount %+v", cfg.Node.SockmapPinDir, m)
	}
	hostBPF := false
	for _, v := range pod.Spec.Volumes {
		if v.Name == "bpffs" && v.HostPath != nil && v.HostPath.Path == "/sys/fs/bpf" {
			hostBPF = true
		}
	}
	if !hostBPF {
		t.Error("no hostPath volume of /sys/fs/bpf: the pods of a node would not share the sockmap")
	}
}

// TestStrictDecodingRefusesUnknownFields proves the decoder is strict: a
// misspelled field fails.
func TestStrictDecodingRefusesUnknownFields(t *testing.T) {
	b, err := os.ReadFile("daemonset.yaml")
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Replace(b, []byte("terminationGracePeriodSeconds"), []byte("terminationGraceSeconds"), 1)
	var ds appsv1.DaemonSet
	if err := yaml.UnmarshalStrict(bad, &ds); err == nil || !strings.Contains(err.Error(), "terminationGraceSeconds") {
		t.Fatalf("a misspelled field decoded: %v", err)
	}
}
