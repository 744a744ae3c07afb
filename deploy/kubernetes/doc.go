// Package kubernetes holds the manifests that deploy rrnode as a
// DaemonSet (daemonset.yaml, configmap.yaml, service.yaml,
// namespace.yaml, kustomization.yaml) and the test that decodes every one
// of them strictly against the Kubernetes API types. It is a module of its
// own so that rrnode's go.mod, and the container image's module download,
// stay free of Kubernetes.
package kubernetes
