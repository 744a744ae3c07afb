package kubernetes

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/pod-security-admission/api"
)

// restrictedDeployment is the overlay in restricted/ as kustomize builds
// it: the base's objects with the patches applied, decoded strictly.
func restrictedDeployment(t *testing.T) *deployment {
	t.Helper()
	return decodeDeployment(t, kustomizeBuild(t, restrictedDir))
}

// TestRestrictedOverlay checks the variant without accelerators: what
// every variant must have (checkDeployment), a namespace that enforces
// `restricted`, and pods of both workloads that meet it without
// exception: not root, no capability, the runtime's seccomp profile, no
// privilege escalation, no hostPath (the socket directory is each pod's
// own emptyDir), no host namespace, and --accel none so that the node
// does not try what it cannot have.
func TestRestrictedOverlay(t *testing.T) {
	d := restrictedDeployment(t)
	checkDeployment(t, d)

	for _, l := range []string{"enforce", "audit", "warn"} {
		if v := d.ns.Labels["pod-security.kubernetes.io/"+l]; v != string(api.LevelRestricted) {
			t.Errorf("namespace pod-security.kubernetes.io/%s=%q, want restricted", l, v)
		}
	}
	for _, w := range d.workloads() {
		t.Run(w.kind, func(t *testing.T) { checkRestrictedPod(t, &w.pod.Spec) })
	}
}

func checkRestrictedPod(t *testing.T, spec *corev1.PodSpec) {
	if got := podSecurity(api.LevelRestricted, spec); len(got) > 0 {
		t.Errorf("the restricted pod breaks restricted's %q", got)
	}
	if got := admission(t, api.LevelRestricted, spec); len(got) > 0 {
		t.Errorf("Pod Security admission refuses the restricted pod: %q", got)
	}

	// What the issue names, each said once more in its own words.
	c := spec.Containers[0]
	if a := accelArg(c.Args); a != "none" {
		t.Errorf("--accel %q, want none", a)
	}
	sc := c.SecurityContext
	if sc == nil || sc.Capabilities == nil || sc.SeccompProfile == nil {
		t.Fatalf("securityContext %+v", sc)
	}
	if !isTrue(sc.RunAsNonRoot) || sc.RunAsUser == nil || *sc.RunAsUser != 65532 {
		t.Errorf("runAsNonRoot %v, runAsUser %v: want true and 65532 (the image's user)", sc.RunAsNonRoot, sc.RunAsUser)
	}
	if len(sc.Capabilities.Add) > 0 || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("capabilities %+v: want ALL dropped, none added", sc.Capabilities)
	}
	if sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("seccomp %s, want RuntimeDefault", sc.SeccompProfile.Type)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || isTrue(sc.Privileged) {
		t.Errorf("allowPrivilegeEscalation %v, privileged %v: want false", sc.AllowPrivilegeEscalation, sc.Privileged)
	}
	if spec.HostNetwork || spec.HostPID || spec.HostIPC {
		t.Error("a host namespace")
	}
	for _, v := range spec.Volumes {
		if v.HostPath != nil {
			t.Errorf("volume %s: hostPath %s", v.Name, v.HostPath.Path)
		}
	}
	// The node still listens on its unix socket (checkDeployment), in a
	// directory of its own that no other pod sees: peers of the host use
	// tcp.
	if v := volumeOf(*spec, "sockets"); v == nil || v.EmptyDir == nil {
		t.Errorf("volume sockets %+v: want an emptyDir", v)
	}
	// uid 65532 reads the Secret's files through fsGroup: group-readable,
	// group 65532.
	auth := volumeOf(*spec, "auth")
	if ps := spec.SecurityContext; auth == nil || auth.Secret.DefaultMode == nil || *auth.Secret.DefaultMode&0o040 == 0 ||
		ps == nil || ps.FSGroup == nil || *ps.FSGroup != 65532 {
		t.Errorf("uid 65532 cannot read the rrnode-auth Secret's files: want them group-readable and fsGroup 65532")
	}
}
