// Package kubernetes holds the manifests that deploy rrnode as a cluster
// of two workloads (namespace.yaml, configmap.yaml, configmap-back.yaml,
// service.yaml, service-peers.yaml, networkpolicy.yaml, daemonset.yaml,
// deployment.yaml, kustomization.yaml): a DaemonSet hosting producer on
// every host, a Deployment hosting transform and consumer, and a headless
// Service through which they find each other. The overlay restricted/
// runs them without accelerators and without the host's socket directory
// under the `restricted` Pod Security level. The tests check them: every
// manifest decoded strictly against the Kubernetes API types; the
// overlay's strategic merge patches applied to the base as kustomize
// applies them; both variants' pods held to the Pod Security level their
// namespace enforces, by checks written out here and by the admission
// controller's own (k8s.io/pod-security-admission); the ConfigMaps' and
// the image's node configs parsed by node.ParseConfig; the cluster's
// pieces (the Service's name and port, the configs' cluster section, the
// shared socket directory, the functions each workload hosts) agreeing.
// The Secret rrnode-auth (the peers' keys, the HTTP token) is made at
// deploy time, never committed: docs/DEPLOY.md.
//
// It is a module of its own so that rrnode's go.mod, and the container
// image's module download, stay free of Kubernetes.
package kubernetes
