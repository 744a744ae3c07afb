package kubernetes

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// deployment is one variant's manifests (the base, or an overlay built
// from it), each decoded strictly against its Kubernetes type.
type deployment struct {
	ns  corev1.Namespace
	cm  corev1.ConfigMap
	svc corev1.Service
	np  networkingv1.NetworkPolicy
	ds  appsv1.DaemonSet
}

// The labels the manifests agree on.
const (
	appLabel     = "app.kubernetes.io/name"
	appName      = "rrnode"
	ingressLabel = "roadrunner.dev/ingress" // namespaces whose pods may reach 8080
	enforceLabel = "pod-security.kubernetes.io/enforce"
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

// baseDocuments reads the resources the base kustomization lists, keyed
// by kind and name ("DaemonSet/rrnode"); each file holds one.
func baseDocuments(t *testing.T) map[string][]byte {
	t.Helper()
	docs := map[string][]byte{}
	for _, f := range readKustomization(t, ".").Resources {
		b := mustRead(t, f)
		k := docKey(t, f, b)
		if _, dup := docs[k]; dup {
			t.Fatalf("%s: a second %s", f, k)
		}
		docs[k] = b
	}
	return docs
}

// docKey is a manifest's kind and name, as kustomize matches a patch to
// its target (the namespace is roadrunner throughout; checkDeployment
// says so).
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

// decodeDeployment decodes each document strictly into its type; every
// kind the deployment needs must be there, and nothing else.
func decodeDeployment(t *testing.T, docs map[string][]byte) *deployment {
	t.Helper()
	var d deployment
	want := map[string]any{
		"Namespace/roadrunner":    &d.ns,
		"ConfigMap/rrnode-config": &d.cm,
		"Service/rrnode":          &d.svc,
		"NetworkPolicy/rrnode":    &d.np,
		"DaemonSet/rrnode":        &d.ds,
	}
	for k, v := range want {
		b, ok := docs[k]
		if !ok {
			t.Fatalf("no %s", k)
		}
		decodeStrict(t, k, b, v)
	}
	for k := range docs {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: not a manifest this test knows", k)
		}
	}
	return &d
}

func mustRead(t *testing.T, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeStrict decodes one manifest (YAML or JSON) into v, refusing
// unknown and duplicate fields.
func decodeStrict(t *testing.T, name string, b []byte, v any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// TestManifests decodes every manifest of the base strictly against its
// Kubernetes type, and checks what ties them together (checkDeployment)
// and what the base alone has: the accelerators' capabilities and seccomp
// exception, the host's bpffs for the sockmap, and a namespace that
// enforces `privileged` for them (TestPodSecurity says why not baseline).
func TestManifests(t *testing.T) {
	k := readKustomization(t, ".")
	files, _ := filepath.Glob("*.yaml")
	for _, f := range files {
		if f != "kustomization.yaml" && !slices.Contains(k.Resources, f) {
			t.Errorf("kustomization.yaml does not list %s", f)
		}
	}
	d := decodeDeployment(t, baseDocuments(t))
	cfg := checkDeployment(t, d)

	if l := d.ns.Labels[enforceLabel]; l != "privileged" {
		t.Errorf("namespace %s=%q, want privileged (the accelerators' exceptions)", enforceLabel, l)
	}
	c := d.ds.Spec.Template.Spec.Containers[0]
	if a := accelArg(c.Args); a != "iouring,sockmap" {
		t.Errorf("--accel %q, want iouring,sockmap", a)
	}
	sc := c.SecurityContext
	if sc == nil || sc.Capabilities == nil || sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeUnconfined {
		t.Fatalf("securityContext %+v: want capabilities and seccomp Unconfined (io_uring)", sc)
	}
	// Those the sockmap needs (daemonset.yaml), and no other: what
	// test-container.sh checks with podman.
	if want := []corev1.Capability{"BPF", "NET_ADMIN", "SYS_ADMIN", "PERFMON"}; !slices.Equal(sc.Capabilities.Add, want) || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("capabilities %+v: want ALL dropped and %v added", sc.Capabilities, want)
	}
	m, ok := mountOf(c, "bpffs")
	if !ok || !strings.HasPrefix(cfg.Node.SockmapPinDir, m.MountPath+"/") {
		t.Errorf("sockmap_pin_dir %q is not under the bpffs mount %+v", cfg.Node.SockmapPinDir, m)
	}
	if v := volumeOf(d.ds.Spec.Template.Spec, "bpffs"); v == nil || v.HostPath == nil || v.HostPath.Path != "/sys/fs/bpf" {
		t.Error("no hostPath volume of /sys/fs/bpf: the pods of a node would not share the sockmap")
	}
}

// checkDeployment checks what every variant must have, and returns the
// node config the ConfigMap carries, parsed: each manifest in namespace
// roadrunner; the selectors match the pod labels; the ports, probes and
// config agree; the pod mounts the config and the rrnode-auth Secret
// read-only where the config looks for them, and no service account
// token; the NetworkPolicy admits 7070 only from rrnode pods and 8080
// only from the labelled namespaces.
func checkDeployment(t *testing.T, d *deployment) *nodeConfig {
	t.Helper()
	for _, m := range []struct {
		name, kind, apiVersion, gotKind, gotAPI, namespace string
	}{
		{"Namespace", "Namespace", "v1", d.ns.Kind, d.ns.APIVersion, d.ns.Name},
		{"ConfigMap", "ConfigMap", "v1", d.cm.Kind, d.cm.APIVersion, d.cm.Namespace},
		{"Service", "Service", "v1", d.svc.Kind, d.svc.APIVersion, d.svc.Namespace},
		{"NetworkPolicy", "NetworkPolicy", "networking.k8s.io/v1", d.np.Kind, d.np.APIVersion, d.np.Namespace},
		{"DaemonSet", "DaemonSet", "apps/v1", d.ds.Kind, d.ds.APIVersion, d.ds.Namespace},
	} {
		if m.gotKind != m.kind || m.gotAPI != m.apiVersion || m.namespace != "roadrunner" {
			t.Errorf("%s: %s %s in %q, want %s %s in roadrunner", m.name, m.gotAPI, m.gotKind, m.namespace, m.apiVersion, m.kind)
		}
	}

	pod := d.ds.Spec.Template
	sel, err := labels.ValidatedSelectorFromSet(d.ds.Spec.Selector.MatchLabels)
	if err != nil || !sel.Matches(labels.Set(pod.Labels)) || pod.Labels[appLabel] != appName {
		t.Errorf("the DaemonSet's selector %v does not match its pods' labels %v (%v)", d.ds.Spec.Selector.MatchLabels, pod.Labels, err)
	}
	if !labels.SelectorFromSet(d.svc.Spec.Selector).Matches(labels.Set(pod.Labels)) || d.svc.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("the Service is not headless over the pods: selector %v, clusterIP %q", d.svc.Spec.Selector, d.svc.Spec.ClusterIP)
	}
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Spec.Containers))
	}
	if a := pod.Spec.AutomountServiceAccountToken; a == nil || *a {
		t.Error("automountServiceAccountToken not false: rrnode never calls the Kubernetes API")
	}
	c := pod.Spec.Containers[0]
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["http"] != 8080 || ports["transport"] != 7070 {
		t.Errorf("container ports %v, want http 8080 (node.http) and transport 7070 (node.listen.tcp)", ports)
	}
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{
		{"startupProbe", c.StartupProbe, "/healthz"},
		{"livenessProbe", c.LivenessProbe, "/healthz"},
		{"readinessProbe", c.ReadinessProbe, "/readyz"},
	} {
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.String() != "http" {
			t.Errorf("%s %+v, want GET %s on http", p.name, p.probe, p.path)
		}
	}
	// Module compilation takes seconds: the startup probe, not liveness,
	// must give it time.
	if p := c.StartupProbe; p != nil && p.PeriodSeconds*p.FailureThreshold < 60 {
		t.Errorf("startupProbe allows %ds, want at least 60s for module compilation", p.PeriodSeconds*p.FailureThreshold)
	}
	if a := pod.Annotations; a["prometheus.io/scrape"] != "true" || a["prometheus.io/port"] != "8080" || a["prometheus.io/path"] != "/metrics" {
		t.Errorf("scrape annotations %v", a)
	}
	for _, m := range c.VolumeMounts {
		if volumeOf(pod.Spec, m.Name) == nil {
			t.Errorf("mount %s at %s: no such volume", m.Name, m.MountPath)
		}
	}

	// The config: valid for rrnode, read from where the pod mounts it.
	text, ok := d.cm.Data["rrnode.yaml"]
	if !ok {
		t.Fatal("the ConfigMap has no rrnode.yaml")
	}
	cfg := parseNodeConfig(t, "configmap.yaml:rrnode.yaml", text)
	if cfg.Node.HTTP != "0.0.0.0:8080" || cfg.Node.Listen.TCP != "0.0.0.0:7070" {
		t.Errorf("node.http %q, node.listen.tcp %q: want the container ports", cfg.Node.HTTP, cfg.Node.Listen.TCP)
	}
	m, ok := mountOf(c, "config")
	if configArg := flagArg(c.Args, "--config"); !ok || !m.ReadOnly || configArg != m.MountPath+"/rrnode.yaml" {
		t.Errorf("--config %q is not the read-only mounted ConfigMap's rrnode.yaml (%+v)", configArg, m)
	}
	if v := volumeOf(pod.Spec, "config"); v == nil || v.ConfigMap == nil || v.ConfigMap.Name != d.cm.Name {
		t.Errorf("volume config %+v is not the ConfigMap %s", v, d.cm.Name)
	}

	// The keys and the token: the Secret's files, where the config names
	// them, read-only.
	m, ok = mountOf(c, "auth")
	v := volumeOf(pod.Spec, "auth")
	if !ok || !m.ReadOnly || v == nil || v.Secret == nil || v.Secret.SecretName != "rrnode-auth" {
		t.Fatalf("volume auth mounted %+v: want the Secret rrnode-auth, read-only", m)
	}
	files := map[string]string{} // Secret key → path in the pod
	for _, it := range v.Secret.Items {
		files[it.Key] = m.MountPath + "/" + it.Path
	}
	if p := files["keys"]; p == "" || p != cfg.Auth.Keys {
		t.Errorf("node.auth.keys %q, but the Secret's keys are at %q", cfg.Auth.Keys, p)
	}
	if p := files["token"]; p == "" || p != cfg.HTTPAuth.TokenFile {
		t.Errorf("node.http_auth.token_file %q, but the Secret's token is at %q", cfg.HTTPAuth.TokenFile, p)
	}
	if cfg.Auth.Insecure || cfg.HTTPAuth.Insecure {
		t.Errorf("node.auth.insecure %v, node.http_auth.insecure %v: the deploy must authenticate", cfg.Auth.Insecure, cfg.HTTPAuth.Insecure)
	}

	checkNetworkPolicy(t, d, ports)
	return cfg
}

// checkNetworkPolicy checks that the NetworkPolicy selects the rrnode
// pods, governs their ingress, and has exactly two rules: the transport
// port from rrnode pods of this namespace, the HTTP port from pods of
// namespaces labelled roadrunner.dev/ingress=true.
func checkNetworkPolicy(t *testing.T, d *deployment, ports map[string]int32) {
	t.Helper()
	np := d.np.Spec
	sel, err := metav1.LabelSelectorAsSelector(&np.PodSelector)
	if err != nil || sel.Empty() || !sel.Matches(labels.Set(d.ds.Spec.Template.Labels)) {
		t.Errorf("the NetworkPolicy's podSelector %+v does not select the rrnode pods (%v)", np.PodSelector, err)
	}
	if !slices.Equal(np.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}) {
		t.Errorf("policyTypes %v, want [Ingress]", np.PolicyTypes)
	}
	admits := map[int32]string{} // port → who
	for i, r := range np.Ingress {
		if len(r.Ports) != 1 || len(r.From) != 1 {
			t.Errorf("ingress[%d]: %d ports from %d peers, want one port from one peer", i, len(r.Ports), len(r.From))
			continue
		}
		p, from := r.Ports[0], r.From[0]
		if p.Port == nil || p.Port.Type != intstr.Int || p.EndPort != nil || (p.Protocol != nil && *p.Protocol != corev1.ProtocolTCP) {
			t.Errorf("ingress[%d]: port %+v, want one TCP port by number", i, p)
			continue
		}
		if from.IPBlock != nil {
			t.Errorf("ingress[%d]: an ipBlock", i)
			continue
		}
		pods, err1 := metav1.LabelSelectorAsSelector(from.PodSelector)
		nss, err2 := metav1.LabelSelectorAsSelector(from.NamespaceSelector)
		switch {
		case err1 != nil || err2 != nil:
			t.Errorf("ingress[%d]: %v %v", i, err1, err2)
		case from.NamespaceSelector == nil && from.PodSelector != nil && !pods.Empty() && pods.Matches(labels.Set(d.ds.Spec.Template.Labels)) &&
			!pods.Matches(labels.Set{appLabel: "other"}):
			admits[p.Port.IntVal] += "rrnode pods;"
		case from.PodSelector == nil && from.NamespaceSelector != nil && !nss.Empty() &&
			nss.Matches(labels.Set{ingressLabel: "true"}) && !nss.Matches(labels.Set{"kubernetes.io/metadata.name": "any"}):
			admits[p.Port.IntVal] += "labelled namespaces;"
		default:
			admits[p.Port.IntVal] += fmt.Sprintf("%+v;", from)
		}
	}
	want := map[int32]string{ports["transport"]: "rrnode pods;", ports["http"]: "labelled namespaces;"}
	if fmt.Sprint(admits) != fmt.Sprint(want) {
		t.Errorf("the NetworkPolicy admits %v, want %v", admits, want)
	}
}

func mountOf(c corev1.Container, volume string) (corev1.VolumeMount, bool) {
	for _, m := range c.VolumeMounts {
		if m.Name == volume {
			return m, true
		}
	}
	return corev1.VolumeMount{}, false
}

func volumeOf(spec corev1.PodSpec, name string) *corev1.Volume {
	for i := range spec.Volumes {
		if spec.Volumes[i].Name == name {
			return &spec.Volumes[i]
		}
	}
	return nil
}

// flagArg is the value of flag in args ("--config FILE"), "" if absent.
func flagArg(args []string, flag string) string {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

func accelArg(args []string) string { return flagArg(args, "--accel") }

// TestStrictDecodingRefusesUnknownFields proves the decoder is strict: a
// misspelled field fails.
func TestStrictDecodingRefusesUnknownFields(t *testing.T) {
	bad := bytes.Replace(mustRead(t, "daemonset.yaml"), []byte("terminationGracePeriodSeconds"), []byte("terminationGraceSeconds"), 1)
	var ds appsv1.DaemonSet
	if err := yaml.UnmarshalStrict(bad, &ds); err == nil || !strings.Contains(err.Error(), "terminationGraceSeconds") {
		t.Fatalf("a misspelled field decoded: %v", err)
	}
}
