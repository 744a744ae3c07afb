package kubernetes

import (
	"net"
	"strconv"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// TestPodMonitor checks the PodMonitor of monitoring/, the only object
// kustomize builds there, decoded strictly against the Prometheus
// Operator's type, against both variants (decodeDeployment): in the
// namespace of the pods, its selector matching the pods of both workloads
// and nothing else of the manifests, its one endpoint naming the port
// node.http listens on (a container port of each pod, by name) with the path the
// node serves its metrics on, and an interval and timeout Prometheus
// accepts (the timeout shorter than the interval).
func TestPodMonitor(t *testing.T) {
	docs := kustomizeBuild(t, monitoringDir)
	if len(docs) != 1 || docs["PodMonitor/rrnode"] == nil {
		t.Fatalf("%s builds %v, want only PodMonitor/rrnode", monitoringDir, sortedKeys(docs))
	}
	var pm monitoringv1.PodMonitor
	decodeStrict(t, "PodMonitor/rrnode", docs["PodMonitor/rrnode"], &pm)
	for _, dir := range []string{privilegedDir, restrictedDir} {
		d := decodeDeployment(t, kustomizeBuild(t, dir))
		if pm.APIVersion != "monitoring.coreos.com/v1" || pm.Kind != "PodMonitor" || pm.Namespace != d.ns.Name {
			t.Errorf("%s: %s %s in namespace %q, want monitoring.coreos.com/v1 PodMonitor in %s", dir, pm.APIVersion, pm.Kind, pm.Namespace, d.ns.Name)
		}
		if ns := pm.Spec.NamespaceSelector; ns.Any || len(ns.MatchNames) > 0 {
			t.Errorf("%s: namespaceSelector %+v, want its own namespace's pods", dir, ns)
		}
		sel, err := metav1.LabelSelectorAsSelector(&pm.Spec.Selector)
		if err != nil || sel.Empty() {
			t.Fatalf("%s: selector %+v: %v (an empty one selects every pod of the namespace)", dir, pm.Spec.Selector, err)
		}
		if len(pm.Spec.PodMetricsEndpoints) != 1 {
			t.Fatalf("%s: %d podMetricsEndpoints, want 1", dir, len(pm.Spec.PodMetricsEndpoints))
		}
		ep := pm.Spec.PodMetricsEndpoints[0]
		for _, w := range d.workloads() {
			if !sel.Matches(labels.Set(w.pod.Labels)) {
				t.Errorf("%s: the PodMonitor's selector %v does not match %s's pod labels %v", dir, sel, w, w.pod.Labels)
			}
			ports := containerPorts(w.pod.Spec.Containers[0])
			if ep.Port == nil || ports[*ep.Port] == 0 {
				t.Fatalf("%s: endpoint port %s names no container port of %s (%v)", dir, fmtPtr(ep.Port), w, ports)
			}
			cfg := parseNodeConfig(t, w.cm.Name, w.cm.Data["rrnode.yaml"])
			if _, port, _ := net.SplitHostPort(cfg.Node.HTTP); port != strconv.Itoa(int(ports[*ep.Port])) {
				t.Errorf("%s: endpoint port %s is %d, but %s's node.http is %s", dir, *ep.Port, ports[*ep.Port], w, cfg.Node.HTTP)
			}
		}
		if ep.Path != "/metrics" || ep.PortNumber != nil {
			t.Errorf("%s: endpoint %+v, want path /metrics on the named port only", dir, ep)
		}
		interval, err1 := time.ParseDuration(string(ep.Interval))
		timeout, err2 := time.ParseDuration(string(ep.ScrapeTimeout))
		if err1 != nil || err2 != nil || interval <= 0 || timeout <= 0 || timeout > interval {
			t.Errorf("%s: interval %q, scrapeTimeout %q: want durations, the timeout no longer than the interval", dir, ep.Interval, ep.ScrapeTimeout)
		}
	}
}
