package kubernetes

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

// podSecurity returns the rules of the Pod Security Standards
// (https://kubernetes.io/docs/concepts/security/pod-security-standards/)
// that spec breaks at level, baseline or restricted, each named as the
// admission controller names it ("hostPath volumes"), sorted. Written out
// so that the tests state what they require; TestPodSecurityChecks holds
// them to the admission controller's own (k8s.io/pod-security-admission).
// Stricter than the standards in three places, none of which these
// manifests come near: no sysctl at all, no relaxation for pods in a user
// namespace (hostUsers: false) and none for Windows pods.
func podSecurity(level api.Level, spec *corev1.PodSpec) []string {
	restricted := level == api.LevelRestricted
	broken := map[string]bool{}
	ps := spec.SecurityContext
	if ps == nil {
		ps = &corev1.PodSecurityContext{}
	}

	// Baseline: the host's namespaces, devices, files and kernel stay out
	// of reach.
	broken["host namespaces"] = spec.HostNetwork || spec.HostPID || spec.HostIPC
	broken["forbidden sysctls"] = len(ps.Sysctls) > 0
	broken["hostProcess"] = ps.WindowsOptions != nil && isTrue(ps.WindowsOptions.HostProcess)
	broken["seLinuxOptions"] = badSELinux(ps.SELinuxOptions)
	broken["forbidden AppArmor profile"] = ps.AppArmorProfile != nil && ps.AppArmorProfile.Type == corev1.AppArmorProfileTypeUnconfined
	for _, v := range spec.Volumes {
		if restricted && !restrictedVolume(v.VolumeSource) {
			broken["restricted volume types"] = true // hostPath included
		} else if !restricted && v.HostPath != nil {
			broken["hostPath volumes"] = true
		}
	}
	if ps.SeccompProfile != nil && !goodSeccomp(ps.SeccompProfile.Type, restricted) {
		broken["seccompProfile"] = true
	}
	// Restricted: set at the pod and left unset by a container, or set by
	// the container.
	podNonRoot := ps.RunAsNonRoot != nil && *ps.RunAsNonRoot
	podSeccomp := ps.SeccompProfile != nil && goodSeccomp(ps.SeccompProfile.Type, true)
	if restricted {
		broken["runAsNonRoot != true"] = ps.RunAsNonRoot != nil && !*ps.RunAsNonRoot
		broken["runAsUser=0"] = ps.RunAsUser != nil && *ps.RunAsUser == 0
	}

	visit := func(c *corev1.Container) {
		sc := c.SecurityContext
		if sc == nil {
			sc = &corev1.SecurityContext{}
		}
		broken["privileged"] = broken["privileged"] || isTrue(sc.Privileged)
		broken["hostProcess"] = broken["hostProcess"] || (sc.WindowsOptions != nil && isTrue(sc.WindowsOptions.HostProcess))
		broken["seLinuxOptions"] = broken["seLinuxOptions"] || badSELinux(sc.SELinuxOptions)
		broken["forbidden AppArmor profile"] = broken["forbidden AppArmor profile"] || (sc.AppArmorProfile != nil && sc.AppArmorProfile.Type == corev1.AppArmorProfileTypeUnconfined)
		broken["procMount"] = broken["procMount"] || (sc.ProcMount != nil && *sc.ProcMount != corev1.DefaultProcMount)
		for _, p := range c.Ports {
			broken["hostPort"] = broken["hostPort"] || p.HostPort != 0
		}
		for _, p := range []*corev1.Probe{c.StartupProbe, c.LivenessProbe, c.ReadinessProbe} {
			broken["probe or lifecycle host"] = broken["probe or lifecycle host"] || (p != nil && probeHost(p.ProbeHandler))
		}
		if sc.SeccompProfile != nil && !goodSeccomp(sc.SeccompProfile.Type, restricted) {
			broken["seccompProfile"] = true
		}
		var add, drop []corev1.Capability
		if sc.Capabilities != nil {
			add, drop = sc.Capabilities.Add, sc.Capabilities.Drop
		}
		if !restricted {
			for _, a := range add {
				broken["non-default capabilities"] = broken["non-default capabilities"] || !slices.Contains(baselineCapabilities, a)
			}
			return
		}
		for _, a := range add {
			broken["unrestricted capabilities"] = broken["unrestricted capabilities"] || a != "NET_BIND_SERVICE"
		}
		broken["unrestricted capabilities"] = broken["unrestricted capabilities"] || !slices.Contains(drop, "ALL")
		broken["allowPrivilegeEscalation != false"] = broken["allowPrivilegeEscalation != false"] || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation
		if sc.RunAsNonRoot != nil && !*sc.RunAsNonRoot || sc.RunAsNonRoot == nil && !podNonRoot {
			broken["runAsNonRoot != true"] = true
		}
		broken["runAsUser=0"] = broken["runAsUser=0"] || (sc.RunAsUser != nil && *sc.RunAsUser == 0)
		if sc.SeccompProfile == nil && !podSeccomp {
			broken["seccompProfile"] = true
		}
	}
	for i := range spec.InitContainers {
		visit(&spec.InitContainers[i])
	}
	for i := range spec.Containers {
		visit(&spec.Containers[i])
	}
	for i := range spec.EphemeralContainers {
		visit((*corev1.Container)(&spec.EphemeralContainers[i].EphemeralContainerCommon))
	}

	var rules []string
	for r, b := range broken {
		if b {
			rules = append(rules, r)
		}
	}
	slices.Sort(rules)
	return rules
}

// baselineCapabilities are those a container may add under baseline: the
// container runtimes' default set.
var baselineCapabilities = []corev1.Capability{
	"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
	"NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}

// goodSeccomp: baseline refuses only Unconfined; restricted wants the
// runtime's default or a profile of the node's.
func goodSeccomp(t corev1.SeccompProfileType, restricted bool) bool {
	if restricted {
		return t == corev1.SeccompProfileTypeRuntimeDefault || t == corev1.SeccompProfileTypeLocalhost
	}
	return t != corev1.SeccompProfileTypeUnconfined
}

// restrictedVolume: the volume types restricted allows, none of which
// reaches the host.
func restrictedVolume(v corev1.VolumeSource) bool {
	return v.ConfigMap != nil || v.CSI != nil || v.DownwardAPI != nil || v.EmptyDir != nil ||
		v.Ephemeral != nil || v.PersistentVolumeClaim != nil || v.Projected != nil || v.Secret != nil
}

func badSELinux(o *corev1.SELinuxOptions) bool {
	if o == nil {
		return false
	}
	return o.User != "" || o.Role != "" ||
		!slices.Contains([]string{"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}, o.Type)
}

func probeHost(h corev1.ProbeHandler) bool {
	return h.HTTPGet != nil && h.HTTPGet.Host != "" || h.TCPSocket != nil && h.TCPSocket.Host != ""
}

func isTrue(b *bool) bool { return b != nil && *b }

// admission returns the reasons the Pod Security admission controller,
// at the newest version of level, gives for refusing spec; sorted.
func admission(t *testing.T, level api.Level, spec *corev1.PodSpec) []string {
	t.Helper()
	ev, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	res := policy.AggregateCheckResults(ev.EvaluatePod(api.LevelVersion{Level: level, Version: api.LatestVersion()}, &metav1.ObjectMeta{}, spec))
	reasons := slices.Clone(res.ForbiddenReasons)
	slices.Sort(reasons)
	return slices.Compact(reasons)
}

// TestPodSecurity checks the base's pods, of the DaemonSet and of the
// Deployment, against the level their namespace enforces, privileged,
// and that exactly the accelerators' and the shared sockets' exceptions
// keep them from baseline: capabilities beyond the default set (BPF,
// NET_ADMIN, SYS_ADMIN, PERFMON: the sockmap), seccomp Unconfined
// (io_uring) and the hostPath volumes of /sys/fs/bpf (the host's shared
// sockmap) and of the host's socket directory (the unix path between
// pods of a host). restricted_test.go checks the overlay that drops them.
func TestPodSecurity(t *testing.T) {
	d := decodeDeployment(t, kustomizeBuild(t, privilegedDir))
	if l := d.ns.Labels[enforceLabel]; l != string(api.LevelPrivileged) {
		t.Errorf("namespace %s=%q, want privileged", enforceLabel, l)
	}
	for _, w := range d.workloads() {
		spec := &w.pod.Spec
		want := []string{"hostPath volumes", "non-default capabilities", "seccompProfile"}
		if got := podSecurity(api.LevelBaseline, spec); !slices.Equal(got, want) {
			t.Errorf("%s: the base pod breaks baseline's %q, want %q (the accelerators' and sockets' exceptions, no other)", w, got, want)
		}
		if got := admission(t, api.LevelBaseline, spec); !slices.Equal(got, want) {
			t.Errorf("%s: Pod Security admission refuses the base pod at baseline for %q, want %q", w, got, want)
		}
	}
}

// TestPodSecurityChecks holds podSecurity to the admission controller: on
// the restricted variant's pods (of both workloads) and on each with one
// thing changed, both must name the same rules at baseline and at
// restricted, and restricted must allow what it allows and nothing else.
func TestPodSecurityChecks(t *testing.T) {
	d := restrictedDeployment(t)
	for _, w := range d.workloads() {
		t.Run(w.kind, func(t *testing.T) { checkPodSecurityChecks(t, &w.pod.Spec) })
	}
}

func checkPodSecurityChecks(t *testing.T, pod *corev1.PodSpec) {
	for _, tc := range []struct {
		name    string
		change  func(*corev1.PodSpec)
		allowed bool // by restricted
	}{
		{"as the overlay makes it", func(*corev1.PodSpec) {}, true},
		{"hostNetwork", func(s *corev1.PodSpec) { s.HostNetwork = true }, false},
		{"privileged", func(s *corev1.PodSpec) { s.Containers[0].SecurityContext.Privileged = ptr(true) }, false},
		{"CAP_BPF", func(s *corev1.PodSpec) { s.Containers[0].SecurityContext.Capabilities.Add = []corev1.Capability{"BPF"} }, false},
		{"CAP_CHOWN (baseline's)", func(s *corev1.PodSpec) {
			s.Containers[0].SecurityContext.Capabilities.Add = []corev1.Capability{"CHOWN"}
		}, false},
		{"CAP_NET_BIND_SERVICE", func(s *corev1.PodSpec) {
			s.Containers[0].SecurityContext.Capabilities.Add = []corev1.Capability{"NET_BIND_SERVICE"}
		}, true},
		{"nothing dropped", func(s *corev1.PodSpec) { s.Containers[0].SecurityContext.Capabilities.Drop = nil }, false},
		{"seccomp Unconfined", func(s *corev1.PodSpec) {
			s.Containers[0].SecurityContext.SeccompProfile.Type = corev1.SeccompProfileTypeUnconfined
		}, false},
		{"seccomp unset", func(s *corev1.PodSpec) { s.Containers[0].SecurityContext.SeccompProfile = nil }, false},
		{"seccomp at the pod", func(s *corev1.PodSpec) {
			s.SecurityContext.SeccompProfile = s.Containers[0].SecurityContext.SeccompProfile
			s.Containers[0].SecurityContext.SeccompProfile = nil
		}, true},
		{"privilege escalation", func(s *corev1.PodSpec) { s.Containers[0].SecurityContext.AllowPrivilegeEscalation = nil }, false},
		{"root", func(s *corev1.PodSpec) { s.Containers[0].SecurityContext.RunAsUser = ptr(int64(0)) }, false},
		{"runAsNonRoot unset", func(s *corev1.PodSpec) { s.Containers[0].SecurityContext.RunAsNonRoot = nil }, false},
		{"runAsNonRoot at the pod", func(s *corev1.PodSpec) {
			s.SecurityContext.RunAsNonRoot = ptr(true)
			s.Containers[0].SecurityContext.RunAsNonRoot = nil
		}, true},
		{"hostPath", func(s *corev1.PodSpec) {
			s.Volumes = append(s.Volumes, corev1.Volume{Name: "bpffs", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/sys/fs/bpf"}}})
		}, false},
		{"hostPort", func(s *corev1.PodSpec) { s.Containers[0].Ports[0].HostPort = 8080 }, false},
		{"an init container as root", func(s *corev1.PodSpec) {
			s.InitContainers = []corev1.Container{{Name: "init", SecurityContext: &corev1.SecurityContext{RunAsUser: ptr(int64(0))}}}
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := pod.DeepCopy()
			tc.change(spec)
			for _, level := range []api.Level{api.LevelBaseline, api.LevelRestricted} {
				got, want := podSecurity(level, spec), admission(t, level, spec)
				if !slices.Equal(got, want) {
					t.Errorf("%s: podSecurity %q, admission %q", level, got, want)
				}
				if level == api.LevelRestricted && (len(want) == 0) != tc.allowed {
					t.Errorf("restricted: admission refuses %q, want allowed %v", want, tc.allowed)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
