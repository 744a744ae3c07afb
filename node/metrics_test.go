package node_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/roadrunner-wasm/roadrunner/node"
)

// TestMetricsRegisterer gives the node an embedding program's registry:
// the node's metrics are gathered from it, the node's /metrics serves it
// (the program's own metrics too), the Go and process collectors stay the
// program's, and Shutdown takes the node's metrics off it, so that a node
// made after it registers there again.
func TestMetricsRegisterer(t *testing.T) {
	reg := prometheus.NewRegistry()
	app := prometheus.NewCounter(prometheus.CounterOpts{Name: "app_requests_total", Help: "The program's own."})
	reg.MustRegister(app)
	app.Inc()

	for round := range 2 { // the second node registers after the first's Shutdown
		n := startNode(t, "", &node.Options{Registerer: reg, Version: "v9.8.7-test"})
		if _, err := n.Invoke(context.Background(), "echo", 3, func(dst []byte) error { copy(dst, "abc"); return nil }, io.Discard); err != nil {
			t.Fatal(err)
		}
		families := gather(t, reg)
		info := find(t, families, "rr_build_info", nil)
		labels := labelMap(info)
		if info.GetGauge().GetValue() != 1 || labels["version"] != "v9.8.7-test" || labels["engine"] != "wazero" || !strings.HasPrefix(labels["goversion"], "go") {
			t.Fatalf("rr_build_info %v = %v", labels, info.GetGauge().GetValue())
		}
		if got := find(t, families, "rr_invocations_total", map[string]string{"function": "echo", "result": "ok"}).GetCounter().GetValue(); got != 1 {
			t.Fatalf("round %d: rr_invocations_total{echo,ok} = %v, want 1", round, got)
		}
		if got := find(t, families, "rr_function_pool_size", map[string]string{"function": "relay"}).GetGauge().GetValue(); got != 4 {
			t.Fatalf("rr_function_pool_size{relay} = %v, want 4 (pool: 4)", got)
		}
		h := find(t, families, "rr_invocation_duration_seconds", map[string]string{"function": "echo"}).GetHistogram()
		if b := h.GetBucket(); h.GetSampleCount() != 1 || len(b) != len(node.DurationBuckets) || b[0].GetUpperBound() != 1e-6 || b[len(b)-1].GetUpperBound() != 60 {
			t.Fatalf("rr_invocation_duration_seconds{echo}: %d samples, buckets %v", h.GetSampleCount(), b)
		}
		for _, f := range families {
			if strings.HasPrefix(f.GetName(), "go_") || strings.HasPrefix(f.GetName(), "process_") {
				t.Fatalf("the node registered %s on the program's registry", f.GetName())
			}
		}
		if body := string(n.get(t, "/metrics").body); !strings.Contains(body, "app_requests_total 1") || !strings.Contains(body, "rr_build_info{") {
			t.Fatalf("the node's /metrics does not serve the program's registry:\n%s", body)
		}
		if err := n.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, f := range gather(t, reg) {
			if strings.HasPrefix(f.GetName(), "rr_") {
				t.Fatalf("round %d: %s still on the program's registry after Shutdown", round, f.GetName())
			}
		}
	}
}

// TestMetricsOptions checks the registerer and gatherer combinations New
// refuses, and two nodes on one registry told apart by a label.
func TestMetricsOptions(t *testing.T) {
	reg := prometheus.NewRegistry()
	wrapped := prometheus.WrapRegistererWith(prometheus.Labels{"node": "a"}, reg)
	for _, c := range []struct {
		name string
		opts node.Options
		want string
	}{
		{"wrapped registerer alone", node.Options{Registerer: wrapped}, "not a prometheus.Gatherer"},
		{"gatherer alone", node.Options{Gatherer: reg}, "Gatherer without a Registerer"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := node.New(context.Background(), loadTestConfig(t), &c.opts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("New: %v, want an error saying %q", err, c.want)
			}
		})
	}

	// Two nodes on one registry, each under its own label: both register.
	a := startNode(t, "", &node.Options{Registerer: wrapped, Gatherer: reg})
	startNode(t, "", &node.Options{Registerer: prometheus.WrapRegistererWith(prometheus.Labels{"node": "b"}, reg), Gatherer: reg})
	families := gather(t, reg)
	for _, name := range []string{"a", "b"} {
		find(t, families, "rr_function_pool_size", map[string]string{"node": name, "function": "echo"})
	}
	if !strings.Contains(string(a.get(t, "/metrics").body), `rr_function_pool_size{function="echo",node="b"} 2`) {
		t.Fatal("node a's /metrics does not serve the gatherer it was given")
	}

	// Two nodes on one registry, unwrapped: the second node's metrics
	// clash with the first's, and New says so instead of panicking.
	shared := prometheus.NewRegistry()
	startNode(t, "", &node.Options{Registerer: shared})
	_, err := node.New(context.Background(), loadTestConfig(t), &node.Options{Registerer: shared})
	var are prometheus.AlreadyRegisteredError
	if !errors.As(err, &are) || !strings.Contains(err.Error(), "register metrics") {
		t.Fatalf("a second node on one registry: New returned %v, want a registration error", err)
	}
}

// TestFunctionGauges holds invocations of counter (pool: 1) inside their
// fill and reads what an autoscaler would: one instance busy, two
// invocations in flight (the second waiting for the instance), the pool's
// size; and all of it back to idle once they finish.
func TestFunctionGauges(t *testing.T) {
	n := startNode(t, "", nil)
	const (
		inFlight = `rr_function_invocations_in_flight{function="counter"}`
		busy     = `rr_function_instances{function="counter",state="busy"}`
		idle     = `rr_function_instances{function="counter",state="idle"}`
		pool     = `rr_function_pool_size{function="counter"}`
		nodeWide = `rr_invocations_in_flight`
	)
	if got := n.metric(t, pool); got != 1 {
		t.Fatalf("%s = %v, want 1", pool, got)
	}
	release, free := held(t)
	done := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := n.Invoke(context.Background(), "counter", 1, func(dst []byte) error { <-release; dst[0] = 1; return nil }, nil)
			done <- err
		}()
	}
	waitUntil(t, "two invocations of counter in flight, one busy instance", func() bool {
		return n.metric(t, inFlight) == 2 && n.metric(t, busy) == 1 && n.metric(t, idle) == 0 && n.metric(t, nodeWide) == 2
	})
	free()
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "counter idle again", func() bool {
		return n.metric(t, inFlight) == 0 && n.metric(t, busy) == 0 && n.metric(t, idle) == 1 && n.metric(t, nodeWide) == 0
	})
}

// loadTestConfig is testConfig's Config, for New without startNode.
func loadTestConfig(t *testing.T) *node.Config {
	t.Helper()
	n := startNode(t, "", nil) // builds the modules; its config has their paths
	c := n.Config()
	path := filepath.Join(t.TempDir(), "node.yaml")
	var b strings.Builder
	b.WriteString("node:\n  cache_dir: " + cacheDir + "\nfunctions:\n")
	for _, f := range c.Functions {
		b.WriteString("  - {name: " + f.Name + ", module: " + f.Module + "}\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := node.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func gather(t *testing.T, g prometheus.Gatherer) []*dto.MetricFamily {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return families
}

// find returns the metric of the family name whose labels include want;
// it fails the test if there is none.
func find(t *testing.T, families []*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	t.Helper()
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			labels := labelMap(m)
			for k, v := range want {
				if labels[k] != v {
					continue metrics
				}
			}
			return m
		}
	}
	t.Fatalf("no %s%v gathered", name, want)
	return nil
}

func labelMap(m *dto.Metric) map[string]string {
	labels := map[string]string{}
	for _, l := range m.GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	return labels
}
