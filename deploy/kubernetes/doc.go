// Package kubernetes holds the manifests that deploy rrnode as a
// DaemonSet (namespace.yaml, configmap.yaml, service.yaml,
// networkpolicy.yaml, daemonset.yaml, kustomization.yaml), the overlay
// restricted/ that runs it without accelerators under the `restricted`
// Pod Security level, and the tests that check them: every manifest
// decoded strictly against the Kubernetes API types; the overlay's
// strategic merge patches applied to the base as kustomize applies them;
// both variants' pods held to the Pod Security level their namespace
// enforces, by checks written out here and by the admission controller's
// own (k8s.io/pod-security-admission); the ConfigMap's and the image's
// node configs parsed by node.ParseConfig. The Secret rrnode-auth (the
// peers' keys, the HTTP token) is made at deploy time, never committed:
// docs/DEPLOY.md.
//
// It is a module of its own so that rrnode's go.mod, and the container
// image's module download, stay free of Kubernetes.
package kubernetes
