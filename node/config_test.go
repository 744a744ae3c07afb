package node_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/node"
)

// writeConfig writes yaml to dir/name, next to an empty module file fn.wasm
// (config validation checks the file exists, not its content).
func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "fn.wasm"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "node.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadConfigDefaults(t *testing.T) {
	path := writeConfig(t, `
node:
  name: demo
functions:
  - name: producer
    module: fn.wasm
  - name: consumer
    module: fn.wasm
    pool: 3
    max_payload: 1KiB
`)
	cfg, err := node.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	want := node.NodeConfig{
		Name:              "demo",
		HTTP:              node.DefaultHTTP,
		MaxPayload:        node.DefaultMaxPayload,
		MaxDepth:          node.DefaultMaxDepth,
		InvocationTimeout: node.DefaultInvocationTimeout,
		DrainTimeout:      node.DefaultDrainTimeout,
	}
	if cfg.Node != want {
		t.Errorf("node = %+v, want %+v", cfg.Node, want)
	}
	if cfg.Path != path {
		t.Errorf("Path = %q, want %q", cfg.Path, path)
	}
	module := filepath.Join(filepath.Dir(path), "fn.wasm")
	wantFns := []node.FunctionConfig{
		{Name: "producer", Module: module, Pool: min(goruntime.GOMAXPROCS(0), node.MaxPool), MaxPayload: node.DefaultMaxPayload},
		{Name: "consumer", Module: module, Pool: 3, MaxPayload: 1024},
	}
	if len(cfg.Functions) != len(wantFns) {
		t.Fatalf("functions = %+v", cfg.Functions)
	}
	for i, f := range cfg.Functions {
		if f != wantFns[i] {
			t.Errorf("functions[%d] = %+v, want %+v", i, f, wantFns[i])
		}
	}
}

func TestLoadConfigValues(t *testing.T) {
	path := writeConfig(t, `
node:
  http: 127.0.0.1:0
  max_payload: 1048576
  max_depth: 3
  invocation_timeout: 2s
  drain_timeout: 1m
  cache_dir: "off"
functions:
  - {name: a.b_c-1, module: fn.wasm, max_payload: 2 MiB, interruptible: false}
  - {name: b, module: fn.wasm, interruptible: true}
`)
	cfg, err := node.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	n := cfg.Node
	if n.HTTP != "127.0.0.1:0" || n.MaxPayload != 1<<20 || n.MaxDepth != 3 ||
		n.InvocationTimeout != 2*time.Second || n.DrainTimeout != time.Minute || n.CacheDir != node.CacheOff {
		t.Errorf("node = %+v", n)
	}
	if got := cfg.Functions[0].MaxPayload; got != 2<<20 {
		t.Errorf("max_payload = %d, want %d", got, 2<<20)
	}
	if !cfg.Functions[0].Uninterruptible || cfg.Functions[1].Uninterruptible {
		t.Errorf("interruptible: false, true read as Uninterruptible %v, %v", cfg.Functions[0].Uninterruptible, cfg.Functions[1].Uninterruptible)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	const fn = "\n  - name: f\n    module: fn.wasm"
	for _, tc := range []struct {
		name, yaml string
		field, msg string // the error must name the field and say msg
	}{
		{"missing module file", "functions:\n  - name: f\n    module: nowhere.wasm", "functions[0].module", "no such file"},
		{"module not set", "functions:\n  - name: f", "functions[0].module", "missing"},
		{"duplicate name", "functions:" + fn + fn, "functions[1].name", `duplicate function "f"`},
		{"bad name", "functions:\n  - name: a/b\n    module: fn.wasm", "functions[0].name", "not a valid name"},
		{"no name", "functions:\n  - module: fn.wasm", "functions[0].name", "missing"},
		{"no functions", "node:\n  name: x", "functions", "at least one"},
		{"pool zero", "functions:" + fn + "\n    pool: 0", "functions[0].pool", "out of range"},
		{"pool too big", "functions:" + fn + "\n    pool: 1025", "functions[0].pool", "out of range"},
		{"pool not a number", "functions:" + fn + "\n    pool: many", "functions[0].pool", "want an integer"},
		{"max_payload 4GiB", "node:\n  max_payload: 4GiB\nfunctions:" + fn, "node.max_payload", "under 4GiB"},
		{"max_payload zero", "functions:" + fn + "\n    max_payload: 0", "functions[0].max_payload", "out of range"},
		{"max_payload negative", "functions:" + fn + "\n    max_payload: -1", "functions[0].max_payload", "want a size"},
		{"bad size suffix", "functions:" + fn + "\n    max_payload: 12XB", "functions[0].max_payload", `"12XB"`},
		{"bad size unit case", "node:\n  max_payload: 1mib\nfunctions:" + fn, "node.max_payload", "want a size"},
		{"max_depth zero", "node:\n  max_depth: 0\nfunctions:" + fn, "node.max_depth", "out of range"},
		{"bad duration", "node:\n  invocation_timeout: soon\nfunctions:" + fn, "node.invocation_timeout", "want a duration"},
		{"negative duration", "node:\n  drain_timeout: -1s\nfunctions:" + fn, "node.drain_timeout", "not positive"},
		{"bad http", "node:\n  http: localhost\nfunctions:" + fn, "node.http", "host:port"},
		{"unknown top-level field", "nodes:\n  name: x\nfunctions:" + fn, "nodes", "unknown field"},
		{"unknown node field", "node:\n  max_paylod: 1KiB\nfunctions:" + fn, "node.max_paylod", "unknown field"},
		{"functions not a list", "functions: 3", "functions", "want a list"},
		{"name not a string", "functions:\n  - name: [a]\n    module: fn.wasm", "functions[0].name", "want a string"},
		{"interruptible not a bool", "functions:" + fn + "\n    interruptible: yes", "functions[0].interruptible", "want true or false"},
		{"unknown function field", "functions:" + fn + "\n    poool: 2", "functions[0].poool", "unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.yaml)
			_, err := node.LoadConfig(path)
			if err == nil {
				t.Fatal("no error")
			}
			var ce *node.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %q (%T) is not a *ConfigError", err, err)
			}
			if ce.Field != tc.field {
				t.Errorf("field = %q, want %q (error: %v)", ce.Field, tc.field, err)
			}
			msg := err.Error()
			if want := "config " + path + ": " + tc.field + ": "; !strings.HasPrefix(msg, want) {
				t.Errorf("error %q does not start with %q", msg, want)
			}
			if !strings.Contains(msg, tc.msg) {
				t.Errorf("error %q does not say %q", msg, tc.msg)
			}
		})
	}
}

func TestLoadConfigSyntax(t *testing.T) {
	path := writeConfig(t, "functions: [\n")
	_, err := node.LoadConfig(path)
	if err == nil || !strings.HasPrefix(err.Error(), "config "+path+": ") {
		t.Fatalf("err = %v, want a config error naming %s", err, path)
	}
	if _, err := node.LoadConfig(filepath.Join(t.TempDir(), "absent.yaml")); err == nil || !strings.Contains(err.Error(), "absent.yaml") {
		t.Fatalf("missing file: err = %v", err)
	}
}

func TestNewBadModule(t *testing.T) {
	// fn.wasm is empty: the config is valid, the module is not.
	cfg, err := node.LoadConfig(writeConfig(t, "node:\n  cache_dir: \"off\"\nfunctions:\n  - {name: broken, module: fn.wasm, pool: 1}\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = node.New(context.Background(), cfg, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "function broken: load ") {
		t.Fatalf("New = %v, want an error naming the function", err)
	}
}
