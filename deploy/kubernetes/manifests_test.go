package kubernetes

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/roadrunner-wasm/roadrunner/node"
)

// deployment is one variant's objects as kustomize builds them (the
// privileged variant, base/ as it is, or the restricted overlay of it),
// each decoded strictly against its Kubernetes type.
type deployment struct {
	ns     corev1.Namespace
	cm     corev1.ConfigMap // the DaemonSet's node config
	backCM corev1.ConfigMap // the Deployment's
	svc    corev1.Service   // the edge: the DaemonSet's pods
	peers  corev1.Service   // the cluster: every rrnode pod
	np     networkingv1.NetworkPolicy
	ds     appsv1.DaemonSet
	back   appsv1.Deployment
}

// workload is a controller of rrnode pods: its pod template, its
// selector and the ConfigMap its pods read.
type workload struct {
	kind, name string
	selector   *metav1.LabelSelector
	pod        *corev1.PodTemplateSpec
	cm         *corev1.ConfigMap
}

func (w workload) String() string { return w.kind + "/" + w.name }

// workloads are the deployment's two: the DaemonSet, the edge of every
// host, and the Deployment, the back of the pipeline.
func (d *deployment) workloads() []workload {
	return []workload{
		{"DaemonSet", d.ds.Name, d.ds.Spec.Selector, &d.ds.Spec.Template, &d.cm},
		{"Deployment", d.back.Name, d.back.Spec.Selector, &d.back.Spec.Template, &d.backCM},
	}
}

// The labels the manifests agree on.
const (
	appLabel     = "app.kubernetes.io/name"
	appName      = "rrnode"      // the DaemonSet's pods
	backName     = "rrnode-back" // the Deployment's pods
	partOfLabel  = "app.kubernetes.io/part-of"
	partOf       = "rrnode"                 // every rrnode pod: the cluster
	ingressLabel = "roadrunner.dev/ingress" // namespaces whose pods may reach 8080
	enforceLabel = "pod-security.kubernetes.io/enforce"
)

// socketDir is the host's directory of the rrnode pods' unix sockets, and
// where each pod of the base mounts it.
const socketDir = "/var/run/rrnode/sockets"

// The demo pipeline's functions (examples/pipeline.yaml): producer sends
// to transform, transform to consumer.
var pipeline = []string{"producer", "transform", "consumer"}

// decodeDeployment decodes each document strictly into its type; every
// kind the deployment needs must be there, and nothing else.
func decodeDeployment(t *testing.T, docs map[string][]byte) *deployment {
	t.Helper()
	var d deployment
	want := map[string]any{
		"Namespace/roadrunner":         &d.ns,
		"ConfigMap/rrnode-config":      &d.cm,
		"ConfigMap/rrnode-back-config": &d.backCM,
		"Service/rrnode":               &d.svc,
		"Service/rrnode-peers":         &d.peers,
		"NetworkPolicy/rrnode":         &d.np,
		"DaemonSet/rrnode":             &d.ds,
		"Deployment/rrnode-back":       &d.back,
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

// TestManifests decodes every object of the privileged variant, as
// kustomize builds it (the base's manifests as written:
// TestKustomizations), strictly against its Kubernetes type, and checks
// what ties them together (checkDeployment) and what this variant alone
// has: the accelerators' capabilities and seccomp exception, the host's
// bpffs for the sockmap, the host's socket directory for the unix path,
// and a namespace that enforces `privileged` for them (TestPodSecurity
// says why not baseline).
func TestManifests(t *testing.T) {
	d := decodeDeployment(t, kustomizeBuild(t, privilegedDir))
	cfgs := checkDeployment(t, d)

	if l := d.ns.Labels[enforceLabel]; l != "privileged" {
		t.Errorf("namespace %s=%q, want privileged (the accelerators' exceptions)", enforceLabel, l)
	}
	for i, w := range d.workloads() {
		cfg, spec := cfgs[i], w.pod.Spec
		c := spec.Containers[0]
		if a := accelArg(c.Args); a != "iouring,sockmap" {
			t.Errorf("%s: --accel %q, want iouring,sockmap", w, a)
		}
		sc := c.SecurityContext
		if sc == nil || sc.Capabilities == nil || sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeUnconfined {
			t.Fatalf("%s: securityContext %+v: want capabilities and seccomp Unconfined (io_uring)", w, sc)
		}
		// Those the sockmap needs (daemonset.yaml), and no other: what
		// test-container.sh checks with podman.
		if want := []corev1.Capability{"BPF", "NET_ADMIN", "SYS_ADMIN", "PERFMON"}; !slices.Equal(sc.Capabilities.Add, want) || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
			t.Errorf("%s: capabilities %+v: want ALL dropped and %v added", w, sc.Capabilities, want)
		}
		// One user for every pod of a host: each opens the others'
		// sockets, which are its owner's alone (mode 0600).
		if sc.RunAsUser == nil || *sc.RunAsUser != 0 || cfg.Node.Listen.UnixMode != 0o600 || cfg.Node.Listen.UnixGroup != "" {
			t.Errorf("%s: runAsUser %s, node.listen.unix_mode %v, unix_group %q: want root's sockets, mode 0600", w, fmtPtr(sc.RunAsUser), cfg.Node.Listen.UnixMode, cfg.Node.Listen.UnixGroup)
		}
		m, ok := mountOf(c, "bpffs")
		if !ok || !strings.HasPrefix(cfg.Node.SockmapPinDir, m.MountPath+"/") {
			t.Errorf("%s: sockmap_pin_dir %q is not under the bpffs mount %+v", w, cfg.Node.SockmapPinDir, m)
		}
		if v := volumeOf(spec, "bpffs"); v == nil || v.HostPath == nil || v.HostPath.Path != "/sys/fs/bpf" {
			t.Errorf("%s: no hostPath volume of /sys/fs/bpf: the pods of a node would not share the sockmap", w)
		}
		// The host's socket directory, at the path the configs name: a
		// pod dials a peer's socket at the path the peer's HELLO gives.
		hp := corev1.HostPathVolumeSource{}
		if v := volumeOf(spec, "sockets"); v != nil && v.HostPath != nil {
			hp = *v.HostPath
		}
		if m, _ := mountOf(c, "sockets"); hp.Path != socketDir || hp.Type == nil || *hp.Type != corev1.HostPathDirectoryOrCreate || m.MountPath != socketDir {
			t.Errorf("%s: volume sockets is the host's %q (type %s), mounted at %q: want the host's %s (DirectoryOrCreate) there", w, hp.Path, fmtPtr(hp.Type), m.MountPath, socketDir)
		}
		// One sockmap for the pods of a host: the same pins.
		if cfg.Node.SockmapPinDir != cfgs[0].Node.SockmapPinDir {
			t.Errorf("%s: sockmap_pin_dir %q, %s's %q: want one for every pod", w, cfg.Node.SockmapPinDir, d.workloads()[0], cfgs[0].Node.SockmapPinDir)
		}
	}
}

// checkDeployment checks what every variant must have, and returns the
// node configs the workloads' ConfigMaps carry, parsed, in the order of
// d.workloads(): each manifest in namespace roadrunner; each workload's
// pods as checkPod wants them, selected by its selector and not by the
// other's; the edge Service over the DaemonSet's pods; the cluster
// (checkCluster); the NetworkPolicy admitting 7070 only from rrnode pods
// and 8080 only from the labelled namespaces.
func checkDeployment(t *testing.T, d *deployment) []*nodeConfig {
	t.Helper()
	for _, m := range []struct {
		name, kind, apiVersion, gotKind, gotAPI, namespace string
	}{
		{"Namespace", "Namespace", "v1", d.ns.Kind, d.ns.APIVersion, d.ns.Name},
		{"ConfigMap", "ConfigMap", "v1", d.cm.Kind, d.cm.APIVersion, d.cm.Namespace},
		{"ConfigMap rrnode-back-config", "ConfigMap", "v1", d.backCM.Kind, d.backCM.APIVersion, d.backCM.Namespace},
		{"Service", "Service", "v1", d.svc.Kind, d.svc.APIVersion, d.svc.Namespace},
		{"Service rrnode-peers", "Service", "v1", d.peers.Kind, d.peers.APIVersion, d.peers.Namespace},
		{"NetworkPolicy", "NetworkPolicy", "networking.k8s.io/v1", d.np.Kind, d.np.APIVersion, d.np.Namespace},
		{"DaemonSet", "DaemonSet", "apps/v1", d.ds.Kind, d.ds.APIVersion, d.ds.Namespace},
		{"Deployment", "Deployment", "apps/v1", d.back.Kind, d.back.APIVersion, d.back.Namespace},
	} {
		if m.gotKind != m.kind || m.gotAPI != m.apiVersion || m.namespace != "roadrunner" {
			t.Errorf("%s: %s %s in %q, want %s %s in roadrunner", m.name, m.gotAPI, m.gotKind, m.namespace, m.apiVersion, m.kind)
		}
	}

	ws := d.workloads()
	var cfgs []*nodeConfig
	for _, w := range ws {
		cfgs = append(cfgs, checkPod(t, w))
	}
	if l := ws[0].pod.Labels[appLabel]; l != appName {
		t.Errorf("%s's pods: %s=%q, want %s", ws[0], appLabel, l, appName)
	}
	if l := ws[1].pod.Labels[appLabel]; l != backName {
		t.Errorf("%s's pods: %s=%q, want %s", ws[1], appLabel, l, backName)
	}
	if r := d.back.Spec.Replicas; r == nil || *r < 2 {
		t.Errorf("%s: replicas %s, want 2 or more (the back of the pipeline survives a pod)", ws[1], fmtPtr(r))
	}
	// Two controllers whose selectors overlap fight over pods.
	for _, a := range ws {
		for _, b := range ws {
			if sel, err := metav1.LabelSelectorAsSelector(a.selector); a != b && (err != nil || sel.Matches(labels.Set(b.pod.Labels))) {
				t.Errorf("%s's selector %v selects %s's pods (%v)", a, a.selector, b, err)
			}
		}
	}
	// The edge: where HTTP clients call producer.
	edge := labels.SelectorFromValidatedSet(d.svc.Spec.Selector)
	if len(d.svc.Spec.Selector) == 0 || !edge.Matches(labels.Set(ws[0].pod.Labels)) || edge.Matches(labels.Set(ws[1].pod.Labels)) ||
		d.svc.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("the Service %s is not headless over %s's pods alone: selector %v, clusterIP %q", d.svc.Name, ws[0], d.svc.Spec.Selector, d.svc.Spec.ClusterIP)
	}

	checkCluster(t, d, cfgs)
	checkNetworkPolicy(t, d)
	return cfgs
}

// checkPod checks a workload's pod and returns the node config its
// ConfigMap carries, parsed: the selector matches the pod's labels, and
// the pod bears the cluster's label; the ports, probes and config agree;
// the pod mounts the config and the rrnode-auth Secret read-only where
// the config looks for them, the socket directory writable where the
// config puts its socket, and no service account token.
func checkPod(t *testing.T, w workload) *nodeConfig {
	t.Helper()
	pod := w.pod
	sel, err := metav1.LabelSelectorAsSelector(w.selector)
	if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) || pod.Labels[partOfLabel] != partOf {
		t.Errorf("%s: the selector %v does not match its pods' labels %v, or they lack %s=%s (%v)", w, w.selector, pod.Labels, partOfLabel, partOf, err)
	}
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%s: %d containers, want 1", w, len(pod.Spec.Containers))
	}
	if a := pod.Spec.AutomountServiceAccountToken; a == nil || *a {
		t.Errorf("%s: automountServiceAccountToken not false: rrnode never calls the Kubernetes API", w)
	}
	c := pod.Spec.Containers[0]
	ports := containerPorts(c)
	if ports["http"] != 8080 || ports["transport"] != 7070 {
		t.Errorf("%s: container ports %v, want http 8080 (node.http) and transport 7070 (node.listen.tcp)", w, ports)
	}
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{
		{"startupProbe", c.StartupProbe, "/readyz"}, // the node answers /healthz while it compiles
		{"livenessProbe", c.LivenessProbe, "/healthz"},
		{"readinessProbe", c.ReadinessProbe, "/readyz"},
	} {
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.String() != "http" {
			t.Errorf("%s: %s %+v, want GET %s on http", w, p.name, p.probe, p.path)
		}
	}
	// Module compilation takes seconds: the startup probe, not liveness,
	// must give it time.
	if p := c.StartupProbe; p != nil && p.PeriodSeconds*p.FailureThreshold < 60 {
		t.Errorf("%s: startupProbe allows %ds, want at least 60s for module compilation", w, p.PeriodSeconds*p.FailureThreshold)
	}
	if a := pod.Annotations; a["prometheus.io/scrape"] != "true" || a["prometheus.io/port"] != "8080" || a["prometheus.io/path"] != "/metrics" {
		t.Errorf("%s: scrape annotations %v", w, a)
	}
	for _, m := range c.VolumeMounts {
		if volumeOf(pod.Spec, m.Name) == nil {
			t.Errorf("%s: mount %s at %s: no such volume", w, m.Name, m.MountPath)
		}
	}

	// The config: valid for rrnode, read from where the pod mounts it.
	text, ok := w.cm.Data["rrnode.yaml"]
	if !ok {
		t.Fatalf("%s: the ConfigMap %s has no rrnode.yaml", w, w.cm.Name)
	}
	cfgName := w.cm.Name + ":rrnode.yaml"
	cfg := parseNodeConfig(t, cfgName, text)
	if cfg.Node.HTTP != "0.0.0.0:8080" || cfg.Node.Listen.TCP != "0.0.0.0:7070" {
		t.Errorf("%s: node.http %q, node.listen.tcp %q: want the container ports", cfgName, cfg.Node.HTTP, cfg.Node.Listen.TCP)
	}
	// Termination: on SIGTERM /readyz fails at once, the node serves on
	// for drain_delay, drains for up to drain_timeout, then takes up to
	// 10s for the last answers and closing its functions. The kubelet's
	// SIGKILL must not come before.
	delay := max(cfg.Node.DrainDelay, 0) // node.NoDrainDelay is none
	need := delay + cfg.Node.DrainTimeout + 10*time.Second
	if g := pod.Spec.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second < need {
		t.Errorf("%s: terminationGracePeriodSeconds %v, want at least %v: drain_delay %v + drain_timeout %v + 10s", w, g, need, delay, cfg.Node.DrainTimeout)
	}
	if cfg.Node.DrainDelay <= 0 {
		t.Errorf("%s: node.drain_delay %v: want a delay, so that endpoints drop a terminating pod before it stops accepting", cfgName, cfg.Node.DrainDelay)
	}
	m, ok := mountOf(c, "config")
	if configArg := flagArg(c.Args, "--config"); !ok || !m.ReadOnly || configArg != m.MountPath+"/rrnode.yaml" {
		t.Errorf("%s: --config %q is not the read-only mounted ConfigMap's rrnode.yaml (%+v)", w, configArg, m)
	}
	if v := volumeOf(pod.Spec, "config"); v == nil || v.ConfigMap == nil || v.ConfigMap.Name != w.cm.Name {
		t.Errorf("%s: volume config %+v is not the ConfigMap %s", w, v, w.cm.Name)
	}

	// The keys and the token: the Secret's files, where the config names
	// them, read-only.
	m, ok = mountOf(c, "auth")
	v := volumeOf(pod.Spec, "auth")
	if !ok || !m.ReadOnly || v == nil || v.Secret == nil || v.Secret.SecretName != "rrnode-auth" {
		t.Fatalf("%s: volume auth mounted %+v: want the Secret rrnode-auth, read-only", w, m)
	}
	files := map[string]string{} // Secret key → path in the pod
	for _, it := range v.Secret.Items {
		files[it.Key] = m.MountPath + "/" + it.Path
	}
	if p := files["keys"]; p == "" || p != cfg.Auth.Keys {
		t.Errorf("%s: node.auth.keys %q, but the Secret's keys are at %q", w, cfg.Auth.Keys, p)
	}
	if p := files["token"]; p == "" || p != cfg.HTTPAuth.TokenFile {
		t.Errorf("%s: node.http_auth.token_file %q, but the Secret's token is at %q", w, cfg.HTTPAuth.TokenFile, p)
	}
	if cfg.Auth.Insecure || cfg.HTTPAuth.Insecure {
		t.Errorf("%s: node.auth.insecure %v, node.http_auth.insecure %v: the deploy must authenticate", w, cfg.Auth.Insecure, cfg.HTTPAuth.Insecure)
	}

	// The unix socket: one per pod, named for the pod ({name} becomes
	// node.name, which is left to default to the hostname: the pod's
	// name), in a writable mounted directory (the root filesystem is
	// read-only).
	if cfg.WrittenName != "" || !strings.Contains(cfg.WrittenUnix, "{name}") {
		t.Errorf("%s: node.name %q, node.listen.unix %q: want no name (the pod's) and {name} in the socket's path, one socket per pod", cfgName, cfg.WrittenName, cfg.WrittenUnix)
	}
	m, ok = mountOf(c, "sockets")
	if dir := filepath.Dir(cfg.Node.Listen.Unix); !ok || m.ReadOnly || m.MountPath != dir {
		t.Errorf("%s: node.listen.unix %q: its directory is not the writable mount of volume sockets (%+v)", w, cfg.Node.Listen.Unix, m)
	}
	// A pod's hostname is its name cut to 63 characters: the socket's
	// path with the longest must still fit a sockaddr_un, as rrnode
	// checks.
	if long, ok := strings.CutPrefix(text, "node:\n"); !ok {
		t.Errorf("%s: does not begin with node:", cfgName)
	} else {
		long = "node:\n  name: " + strings.Repeat("x", 63) + "\n" + long
		parseNodeConfig(t, cfgName+" for a pod of a 63-character name", long)
	}
	return cfg
}

// checkCluster checks what makes the two workloads one cluster: the
// headless Service rrnode-peers selects every rrnode pod and no other,
// publishes no pod that is not ready, and has one port, the transport;
// each config's cluster.dns is that Service's name in the cluster's DNS
// and cluster.port its port, which is each pod's transport port and the
// port of node.listen.tcp; no static peers; node.route nearest; the
// sockets in one directory; and the demo pipeline split between the two:
// producer on the edge, transform and consumer together on the back, no
// function on both.
func checkCluster(t *testing.T, d *deployment, cfgs []*nodeConfig) {
	t.Helper()
	svc := d.peers.Spec
	if svc.ClusterIP != corev1.ClusterIPNone || svc.PublishNotReadyAddresses {
		t.Errorf("the Service %s: clusterIP %q, publishNotReadyAddresses %v: want headless (None), ready pods only", d.peers.Name, svc.ClusterIP, svc.PublishNotReadyAddresses)
	}
	sel := labels.SelectorFromValidatedSet(svc.Selector)
	for _, w := range d.workloads() {
		if len(svc.Selector) == 0 || !sel.Matches(labels.Set(w.pod.Labels)) {
			t.Errorf("the Service %s's selector %v does not select %s's pods %v", d.peers.Name, svc.Selector, w, w.pod.Labels)
		}
	}
	for _, other := range []labels.Set{{}, {appLabel: "other"}, {appLabel: appName}, {partOfLabel: "other"}} {
		if sel.Matches(other) {
			t.Errorf("the Service %s's selector %v selects pods labelled %v, which are no rrnode pods", d.peers.Name, svc.Selector, other)
		}
	}
	if len(svc.Ports) != 1 {
		t.Fatalf("the Service %s has ports %+v, want one: the transport", d.peers.Name, svc.Ports)
	}
	port := svc.Ports[0]
	if port.Name != "transport" || (port.Protocol != "" && port.Protocol != corev1.ProtocolTCP) {
		t.Errorf("the Service %s's port %+v: want transport, TCP", d.peers.Name, port)
	}
	fqdn := d.peers.Name + "." + d.peers.Namespace + ".svc.cluster.local"

	dir := filepath.Dir(cfgs[0].Node.Listen.Unix)
	where := map[string][]string{} // function → the workloads that host it
	for i, w := range d.workloads() {
		cfg := cfgs[i]
		cl := cfg.Cluster
		if cl.DNS != fqdn {
			t.Errorf("%s: cluster.dns %q, want the Service %s's name %q", w, cl.DNS, d.peers.Name, fqdn)
		}
		transport := containerPorts(w.pod.Spec.Containers[0])["transport"]
		target := port.TargetPort.IntValue() // a number, or 0 for a name
		if port.TargetPort.Type == intstr.String {
			target = int(containerPorts(w.pod.Spec.Containers[0])[port.TargetPort.StrVal])
		}
		_, tcp, _ := net.SplitHostPort(cfg.Node.Listen.TCP)
		if p := strconv.Itoa(cl.Port); cl.Port != int(port.Port) || cl.Port != int(transport) || cl.Port != target || p != tcp {
			t.Errorf("%s: cluster.port %d, the Service's port %d (target %s, here %d), containerPort transport %d, node.listen.tcp %q: want one port",
				w, cl.Port, port.Port, port.TargetPort.String(), target, transport, cfg.Node.Listen.TCP)
		}
		if cfg.Node.Route != node.RouteNearest {
			t.Errorf("%s: node.route %q, want %s: a replica of the same host first", w, cfg.Node.Route, node.RouteNearest)
		}
		if len(cfg.Peers) != 0 {
			t.Errorf("%s: static peers %+v: the cluster's come from %s", w, cfg.Peers, fqdn)
		}
		if d := filepath.Dir(cfg.Node.Listen.Unix); d != dir {
			t.Errorf("%s: node.listen.unix %q is not in %s, where the others' sockets are", w, cfg.Node.Listen.Unix, dir)
		}
		for _, f := range cfg.Functions {
			where[f.Name] = append(where[f.Name], w.String())
		}
	}

	ws := d.workloads()
	for f, in := range where {
		if !slices.Contains(pipeline, f) || len(in) != 1 {
			t.Errorf("function %s is hosted by %q: want each of %q on one workload", f, in, pipeline)
		}
	}
	for f, w := range map[string]workload{"producer": ws[0], "transform": ws[1], "consumer": ws[1]} {
		if in := where[f]; !slices.Equal(in, []string{w.String()}) {
			t.Errorf("function %s is hosted by %q, want %s", f, in, w)
		}
	}
}

// checkNetworkPolicy checks that the NetworkPolicy selects the rrnode
// pods of both workloads, governs their ingress, and has exactly two
// rules: the transport port from rrnode pods of this namespace, the HTTP
// port from pods of namespaces labelled roadrunner.dev/ingress=true.
func checkNetworkPolicy(t *testing.T, d *deployment) {
	t.Helper()
	np := d.np.Spec
	ws := d.workloads()
	sel, err := metav1.LabelSelectorAsSelector(&np.PodSelector)
	for _, w := range ws {
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(w.pod.Labels)) {
			t.Errorf("the NetworkPolicy's podSelector %+v does not select %s's pods (%v)", np.PodSelector, w, err)
		}
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
		case from.NamespaceSelector == nil && from.PodSelector != nil && !pods.Empty() &&
			pods.Matches(labels.Set(ws[0].pod.Labels)) && pods.Matches(labels.Set(ws[1].pod.Labels)) &&
			!pods.Matches(labels.Set{appLabel: "other"}):
			admits[p.Port.IntVal] += "rrnode pods;"
		case from.PodSelector == nil && from.NamespaceSelector != nil && !nss.Empty() &&
			nss.Matches(labels.Set{ingressLabel: "true"}) && !nss.Matches(labels.Set{"kubernetes.io/metadata.name": "any"}):
			admits[p.Port.IntVal] += "labelled namespaces;"
		default:
			admits[p.Port.IntVal] += fmt.Sprintf("%+v;", from)
		}
	}
	ports := containerPorts(ws[0].pod.Spec.Containers[0])
	want := map[int32]string{ports["transport"]: "rrnode pods;", ports["http"]: "labelled namespaces;"}
	if fmt.Sprint(admits) != fmt.Sprint(want) {
		t.Errorf("the NetworkPolicy admits %v, want %v", admits, want)
	}
}

// fmtPtr formats *p, or "unset".
func fmtPtr[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}

// containerPorts maps c's port names to their numbers.
func containerPorts(c corev1.Container) map[string]int32 {
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	return ports
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
	bad := bytes.Replace(mustRead(t, filepath.Join(baseDir, "daemonset.yaml")), []byte("terminationGracePeriodSeconds"), []byte("terminationGraceSeconds"), 1)
	var ds appsv1.DaemonSet
	if err := yaml.UnmarshalStrict(bad, &ds); err == nil || !strings.Contains(err.Error(), "terminationGraceSeconds") {
		t.Fatalf("a misspelled field decoded: %v", err)
	}
}
