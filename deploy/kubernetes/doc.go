// Package kubernetes holds the manifests that deploy rrnode as a cluster
// of two workloads: a DaemonSet hosting producer on every host, a
// Deployment hosting transform and consumer, and a headless Service
// through which they find each other. They are in base/ (namespace.yaml,
// configmap.yaml, configmap-back.yaml, service.yaml, service-peers.yaml,
// networkpolicy.yaml, daemonset.yaml and deployment.yaml, listed by its
// kustomization.yaml); monitoring/ holds podmonitor.yaml, the Prometheus
// Operator's scrape of the pods, apart because it needs the operator's
// CRDs. Two variants build on it, each a directory for
// kubectl apply -k: this one (kustomization.yaml), the base as it is,
// with its accelerators; and the overlay restricted/, which patches the
// base (../base) to run without accelerators and without the host's
// socket directory under the `restricted` Pod Security level. The base
// sits beside the overlay, not around it: kustomize refuses an overlay
// inside its base's directory.
//
// The tests build both variants with kustomize's own Go API
// (sigs.k8s.io/kustomize/api/krusty) and check what it outputs: the
// privileged variant the base's manifests as written, the restricted one
// changed only where its patches say; every object decoded strictly
// against the Kubernetes API types (the PodMonitor against the Prometheus
// Operator's, github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring); both variants' pods held to the Pod
// Security level their namespace enforces, by checks written out here and
// by the admission controller's own (k8s.io/pod-security-admission); the
// ConfigMaps' and the image's node configs parsed by node.ParseConfig; the
// cluster's pieces (the Service's name and port, the configs' cluster
// section, the shared socket directory, the functions each workload
// hosts) agreeing. The Secret rrnode-auth (the peers' keys, the HTTP
// token) is made at deploy time, never committed: docs/DEPLOY.md.
//
// It is a module of its own so that rrnode's go.mod, and the container
// image's module download, stay free of Kubernetes.
package kubernetes
