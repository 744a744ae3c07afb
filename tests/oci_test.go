package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/internal/nodeproc"
	"github.com/roadrunner-wasm/roadrunner/internal/testregistry"
)

// rrnodePush runs `rrnode push FILE REF` with args and returns the digest
// it printed (-o json).
func rrnodePush(t *testing.T, tr tree, file, ref string, args ...string) string {
	t.Helper()
	cmd := exec.Command(tr.rrnode, append([]string{"push", file, ref, "-o", "json"}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("rrnode push %s %s: %v\n%s", file, ref, err, stderr)
	}
	var r struct {
		Digest    string `json:"digest"`
		Reference string `json:"reference"`
	}
	if err := json.Unmarshal(out, &r); err != nil || !strings.HasPrefix(r.Digest, "sha256:") {
		t.Fatalf("rrnode push printed %q (%v)", out, err)
	}
	return r.Digest
}

// ociPipeline is the example pipeline's config with its modules in reg:
// producer and transform by digest, consumer by tag.
func ociPipeline(t *testing.T, tr tree, reg *testregistry.Registry, registry string, digests map[string]string) string {
	t.Helper()
	b, err := os.ReadFile(tr.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(b)
	for _, g := range guests {
		ref := "oci://" + reg.Host + "/pipeline/" + g + "@" + digests[g]
		if g == "consumer" {
			ref = "oci://" + reg.Host + "/pipeline/" + g + ":v1"
		}
		from := "module: ../build/wasm/" + g + ".wasm"
		if !strings.Contains(cfg, from) {
			t.Fatalf("%s has no %q", tr.config, from)
		}
		cfg = strings.Replace(cfg, from, "module: '"+ref+"'", 1)
	}
	cfg = strings.Replace(cfg, "node:\n", "node:\n  registry: {"+registry+"}\n", 1)
	path := filepath.Join(t.TempDir(), "pipeline-oci.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestOCIPipeline: the pipeline's modules pushed with rrnode push to a
// real registry over HTTPS with Basic auth, a node started from their
// digests and a tag, the pipeline verified; the registry's CA left out,
// the node refuses to start and says why; the registry down, a node with
// the modules cached starts, one without does not.
func TestOCIPipeline(t *testing.T) {
	tr := build(t)
	reg := testregistry.Start(t, testregistry.Options{TLS: true, User: "rr", Password: "pipeline-secret"})
	creds := []string{"--ca-file", reg.CAFile, "--auth-file", reg.AuthFile}
	digests := map[string]string{}
	for _, g := range guests {
		file := filepath.Join(tr.dir, "build", "wasm", g+".wasm")
		digests[g] = rrnodePush(t, tr, file, "oci://"+reg.Host+"/pipeline/"+g+":v1", creds...)
	}
	cache := t.TempDir()
	registry := fmt.Sprintf("auth_file: %s, ca_file: %s, cache_dir: %s", reg.AuthFile, reg.CAFile, cache)

	n := startNode(t, tr, ociPipeline(t, tr, reg, registry, digests))
	for _, size := range []int{0, 1 << 10, 1 << 20} {
		payload := pattern(size)
		checkPipeline(t, post(t, n, "producer", payload), payload)
	}
	if c := strings.Count(n.Output(), "module pulled"); c != 3 {
		t.Errorf("%d modules pulled, want 3:\n%s", c, n.Output())
	}
	if _, err := n.Stop(); err != nil {
		t.Fatal(err)
	}

	// Without the CA: the registry's certificate is refused.
	noCA := fmt.Sprintf("auth_file: %s, cache_dir: %s", reg.AuthFile, t.TempDir())
	_, err := nodeproc.Start(context.Background(), &nodeproc.Options{Binary: tr.rrnode, Config: ociPipeline(t, tr, reg, noCA, digests), StartTimeout: time.Minute})
	if err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("start without the registry's CA: %v", err)
	}
	// Without credentials: 401.
	noAuth := fmt.Sprintf("ca_file: %s, cache_dir: %s", reg.CAFile, t.TempDir())
	_, err = nodeproc.Start(context.Background(), &nodeproc.Options{Binary: tr.rrnode, Config: ociPipeline(t, tr, reg, noAuth, digests), StartTimeout: time.Minute})
	if err == nil || !strings.Contains(err.Error(), "asks for credentials and none are configured") {
		t.Errorf("start without credentials: %v", err)
	}

	// The registry down. The config by digest only (a tag needs the
	// registry): the cache has them, so the node starts and says so.
	reg.Close()
	pinned := strings.Replace(readFile(t, ociPipeline(t, tr, reg, registry, digests)), "/pipeline/consumer:v1", "/pipeline/consumer@"+digests["consumer"], 1)
	pinnedPath := filepath.Join(t.TempDir(), "pinned.yaml")
	if err := os.WriteFile(pinnedPath, []byte(pinned), 0o644); err != nil {
		t.Fatal(err)
	}
	n = startNode(t, tr, pinnedPath)
	payload := pattern(4096)
	checkPipeline(t, post(t, n, "producer", payload), payload)
	if c := strings.Count(n.Output(), "module from the cache"); c != 3 {
		t.Errorf("%d modules from the cache, want 3:\n%s", c, n.Output())
	}
	// Not cached: a clear error, naming the function and the registry.
	uncached := strings.Replace(pinned, "cache_dir: "+cache, "cache_dir: "+t.TempDir(), 1)
	uncachedPath := filepath.Join(t.TempDir(), "uncached.yaml")
	if err := os.WriteFile(uncachedPath, []byte(uncached), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = nodeproc.Start(context.Background(), &nodeproc.Options{Binary: tr.rrnode, Config: uncachedPath, StartTimeout: time.Minute})
	if err == nil || !strings.Contains(err.Error(), "function producer: pull oci://"+reg.Host) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("start with the registry down and nothing cached: %v", err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestOCIColdStart measures (RR_OCI_COLD_START=1) how long a node takes
// to be ready with its module in a file and with it pulled from a
// registry (plain HTTP on loopback), the compilation cache empty in both,
// and how long rrnode pull takes, alternating, medians of 7:
//
//	RR_OCI_COLD_START=1 go test -count=1 -run TestOCIColdStart -v ./tests/
func TestOCIColdStart(t *testing.T) {
	if os.Getenv("RR_OCI_COLD_START") == "" {
		t.Skip("a measurement: RR_OCI_COLD_START=1 to run it")
	}
	tr := build(t)
	reg := testregistry.Start(t, testregistry.Options{})
	file := filepath.Join(tr.dir, "build", "wasm", "producer.wasm")
	st, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	digest := rrnodePush(t, tr, file, "oci://"+reg.Host+"/m/producer:v1", "--plain-http")
	config := func(module, extra string) string {
		path := filepath.Join(t.TempDir(), "node.yaml")
		cfg := fmt.Sprintf("node:\n  drain_delay: 0\n  cache_dir: %s\n%sfunctions:\n  - {name: producer, module: '%s', pool: 1}\n", t.TempDir(), extra, module)
		if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	// ready starts a node on path, and returns how long it took to be
	// ready and the pull time it logged (0 if none).
	ready := func(path string) (time.Duration, time.Duration) {
		start := time.Now()
		n, err := nodeproc.Start(context.Background(), &nodeproc.Options{Binary: tr.rrnode, Config: path})
		if err != nil {
			t.Fatal(err)
		}
		d := time.Since(start)
		if _, err := n.Stop(); err != nil {
			t.Fatal(err)
		}
		var pt time.Duration
		if _, rest, ok := strings.Cut(n.Output(), "pull_time="); ok {
			pt, _ = time.ParseDuration(strings.Fields(rest)[0])
		}
		return d, pt
	}
	ociCache := filepath.Join(tr.dir, "oci-cache")
	var local, oci, cached, pull, inNode []time.Duration
	for range 7 {
		d, _ := ready(config(file, ""))
		local = append(local, d)
		d, pt := ready(config("oci://"+reg.Host+"/m/producer@"+digest, "  registry: {plain_http: ['"+reg.Host+"']}\n"))
		oci, inNode = append(oci, d), append(inNode, pt)
		// The module cache filled by a first start, then a start with a
		// new compilation cache: the module is read, not pulled.
		withCache := "  registry: {plain_http: ['" + reg.Host + "'], cache_dir: " + ociCache + "}\n"
		ready(config("oci://"+reg.Host+"/m/producer@"+digest, withCache))
		d, _ = ready(config("oci://"+reg.Host+"/m/producer@"+digest, withCache))
		cached = append(cached, d)
		start := time.Now()
		out := filepath.Join(t.TempDir(), "p.wasm")
		if b, err := exec.Command(tr.rrnode, "pull", "oci://"+reg.Host+"/m/producer@"+digest, out, "--plain-http").CombinedOutput(); err != nil {
			t.Fatalf("rrnode pull: %v\n%s", err, b)
		}
		pull = append(pull, time.Since(start))
	}
	med := func(d []time.Duration) time.Duration {
		d = slices.Clone(d)
		slices.Sort(d)
		return percentile(d, 50)
	}
	t.Logf("module %d bytes; medians of 7, ready = process start to /readyz 200, compilation cache empty:", st.Size())
	t.Logf("  local file           %v", med(local))
	t.Logf("  oci, pulled          %v  (+%v)", med(oci), med(oci)-med(local))
	t.Logf("  oci, module cached   %v  (+%v)", med(cached), med(cached)-med(local))
	t.Logf("  pull inside the node (its log's pull_time) %v", med(inNode))
	t.Logf("  rrnode pull (a process) %v", med(pull))
}
