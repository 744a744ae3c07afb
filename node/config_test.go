package node_test

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"reflect"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/bpf"
	"github.com/roadrunner-wasm/roadrunner/internal/wasmbuild"
	"github.com/roadrunner-wasm/roadrunner/node"
	"github.com/roadrunner-wasm/roadrunner/transport"
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
    max_memory: 1MiB
    recycle_memory: 512KiB
    queue: 0
    max_per_source: 2
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
		DrainDelay:        node.DefaultDrainDelay,
		Listen: node.ListenConfig{
			UnixMode:          node.DefaultUnixMode,
			UnixGID:           -1,
			MaxConns:          node.DefaultListenConns,
			MaxConnsPerSource: node.DefaultConnsPerSource,
			FirstFrameTimeout: node.DefaultFirstFrameTimeout,
		},
		TCPSend:             transport.MechanismAuto,
		DialTimeout:         node.DefaultDialTimeout,
		IOTimeout:           node.DefaultIOTimeout,
		ReadProgressTimeout: node.DefaultReadProgressTimeout,
		SockmapPinDir:       bpf.DefaultPinDir,
		Route:               node.RouteNearest,
	}
	if !reflect.DeepEqual(cfg.Node, want) {
		t.Errorf("node = %+v, want %+v", cfg.Node, want)
	}
	if cfg.Path != path {
		t.Errorf("Path = %q, want %q", cfg.Path, path)
	}
	module := filepath.Join(filepath.Dir(path), "fn.wasm")
	wantFns := []node.FunctionConfig{
		{Name: "producer", Module: module, Pool: min(goruntime.GOMAXPROCS(0), node.MaxPool), MaxPayload: node.DefaultMaxPayload,
			RecycleMemory: node.DefaultRecycleMemory, Queue: node.DefaultQueue},
		{Name: "consumer", Module: module, Pool: 3, MaxPayload: 1024, MaxMemory: 1 << 20, RecycleMemory: 512 << 10,
			Queue: node.NoQueue, MaxPerSource: 2},
	}
	if len(cfg.Functions) != len(wantFns) {
		t.Fatalf("functions = %+v", cfg.Functions)
	}
	for i, f := range cfg.Functions {
		if f != wantFns[i] {
			t.Errorf("functions[%d] = %+v, want %+v", i, f, wantFns[i])
		}
	}
	if cfg.Peers != nil {
		t.Errorf("peers = %+v, want none", cfg.Peers)
	}
	if cfg.Cluster != (node.ClusterConfig{}) {
		t.Errorf("cluster = %+v, want none", cfg.Cluster)
	}
}

// TestLoadConfigCluster: the cluster section's defaults and values,
// node.route, {name} in the unix socket's path, and replicas among static
// peers.
func TestLoadConfigCluster(t *testing.T) {
	path := writeConfig(t, `
node:
  name: n1
  route: any
  listen: {unix: 'socks/{name}.sock'}
functions:
  - {name: f, module: fn.wasm}
peers:
  - {name: b, address: 'tcp://127.0.0.1:1', functions: [g, h]}
  - {name: c, address: 'tcp://127.0.0.1:2', functions: [g]}
cluster:
  dns: rrnode-peers.rrnode.svc.cluster.local.
  resolver: 127.0.0.1:5353
`)
	cfg, err := node.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	want := node.ClusterConfig{
		DNS:      "rrnode-peers.rrnode.svc.cluster.local.",
		Port:     node.DefaultClusterPort,
		Refresh:  node.DefaultClusterRefresh,
		Resolver: "127.0.0.1:5353",
		MaxConns: node.DefaultPeerConns,
	}
	if cfg.Cluster != want {
		t.Errorf("cluster = %+v, want %+v", cfg.Cluster, want)
	}
	if cfg.Node.Route != node.RouteAny {
		t.Errorf("route = %q, want any", cfg.Node.Route)
	}
	if want := filepath.Join(filepath.Dir(path), "socks", "n1.sock"); cfg.Node.Listen.Unix != want {
		t.Errorf("listen.unix = %q, want %q", cfg.Node.Listen.Unix, want)
	}
	path = writeConfig(t, "functions: [{name: f, module: fn.wasm}]\ncluster: {dns: rr.local, port: 9000, refresh: 250ms, max_conns: 2}\n")
	if cfg, err = node.LoadConfig(path); err != nil {
		t.Fatal(err)
	}
	if want := (node.ClusterConfig{DNS: "rr.local", Port: 9000, Refresh: 250 * time.Millisecond, MaxConns: 2}); cfg.Cluster != want {
		t.Errorf("cluster = %+v, want %+v", cfg.Cluster, want)
	}
}

// TestLoadConfigDrainDelay: absent is the default, 0 is none, a duration
// is itself, a negative one is refused.
func TestLoadConfigDrainDelay(t *testing.T) {
	for _, c := range []struct {
		line string
		want time.Duration
	}{
		{"", node.DefaultDrainDelay},
		{"  drain_delay: 0\n", node.NoDrainDelay},
		{"  drain_delay: 0s\n", node.NoDrainDelay},
		{"  drain_delay: 2s\n", 2 * time.Second},
	} {
		cfg, err := node.LoadConfig(writeConfig(t, "node:\n  name: d\n"+c.line+"functions:\n  - {name: f, module: fn.wasm}\n"))
		if err != nil {
			t.Fatalf("%q: %v", c.line, err)
		}
		if cfg.Node.DrainDelay != c.want {
			t.Errorf("%q: drain_delay %v, want %v", c.line, cfg.Node.DrainDelay, c.want)
		}
	}
	for _, line := range []string{"  drain_delay: -1s\n", "  drain_delay: soon\n"} {
		_, err := node.LoadConfig(writeConfig(t, "node:\n"+line+"functions:\n  - {name: f, module: fn.wasm}\n"))
		if err == nil || !strings.Contains(err.Error(), "node.drain_delay") {
			t.Errorf("%q: %v, want an error naming node.drain_delay", line, err)
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
  - {name: b, module: fn.wasm, interruptible: true, max_payload: 1.5MB}
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
	if got := cfg.Functions[1].MaxPayload; got != 1.5e6 {
		t.Errorf("max_payload 1.5MB = %d, want %d", got, int(1.5e6))
	}
	if !cfg.Functions[0].Uninterruptible || cfg.Functions[1].Uninterruptible {
		t.Errorf("interruptible: false, true read as Uninterruptible %v, %v", cfg.Functions[0].Uninterruptible, cfg.Functions[1].Uninterruptible)
	}
}

func TestLoadConfigTransport(t *testing.T) {
	path := writeConfig(t, `
node:
  listen:
    unix: run/a.sock
    unix_mode: "0660"
    unix_group: 4321
    tcp: 127.0.0.1:0
    max_conns: 65536
    max_conns_per_source: 7
    first_frame_timeout: 3s
  tcp_send: splice
  verify: true
  dial_timeout: 250ms
  io_timeout: 2m
  sockmap_pin_dir: /sys/fs/bpf/rr//a/
  read_progress_timeout: 2s
functions:
  - {name: producer, module: fn.wasm}
peers:
  - name: b
    address: unix://b.sock
    functions: [transform, consumer]
    max_conns: 1024
  - name: c.1
    address: unix:///run/rr/c.sock
    functions: [x]
  - name: d
    address: tcp://198.18.0.2:7070
    functions: [y]
    max_conns: 1
  - name: e
    address: tcp://[::1]:65535
    functions: [z]
  - name: f
    address: unix://../up/f.sock
    functions: [w]
`)
	cfg, err := node.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(path)
	want := node.NodeConfig{
		Name:              cfg.Node.Name,
		HTTP:              node.DefaultHTTP,
		MaxPayload:        node.DefaultMaxPayload,
		MaxDepth:          node.DefaultMaxDepth,
		InvocationTimeout: node.DefaultInvocationTimeout,
		DrainTimeout:      node.DefaultDrainTimeout,
		DrainDelay:        node.DefaultDrainDelay,
		Listen: node.ListenConfig{
			Unix:      filepath.Join(dir, "run", "a.sock"),
			UnixMode:  0o660,
			UnixGroup: "4321",
			UnixGID:   4321,
			TCP:       "127.0.0.1:0",
			MaxConns:  65536,
			// Set in the YAML above.
			MaxConnsPerSource: 7,
			FirstFrameTimeout: 3 * time.Second,
		},
		TCPSend:             transport.MechanismSplice,
		Verify:              true,
		DialTimeout:         250 * time.Millisecond,
		IOTimeout:           2 * time.Minute,
		ReadProgressTimeout: 2 * time.Second,
		SockmapPinDir:       "/sys/fs/bpf/rr/a",
		Route:               node.RouteNearest,
	}
	if !reflect.DeepEqual(cfg.Node, want) {
		t.Errorf("node =\n%+v, want\n%+v", cfg.Node, want)
	}
	wantPeers := []node.PeerConfig{
		{Name: "b", Address: "unix://" + filepath.Join(dir, "b.sock"), Functions: []string{"transform", "consumer"}, MaxConns: 1024},
		{Name: "c.1", Address: "unix:///run/rr/c.sock", Functions: []string{"x"}, MaxConns: node.DefaultPeerConns},
		{Name: "d", Address: "tcp://198.18.0.2:7070", Functions: []string{"y"}, MaxConns: 1},
		{Name: "e", Address: "tcp://[::1]:65535", Functions: []string{"z"}, MaxConns: node.DefaultPeerConns},
		{Name: "f", Address: "unix://" + filepath.Join(filepath.Dir(dir), "up", "f.sock"), Functions: []string{"w"}, MaxConns: node.DefaultPeerConns},
	}
	if len(cfg.Peers) != len(wantPeers) {
		t.Fatalf("peers = %+v", cfg.Peers)
	}
	for i, p := range cfg.Peers {
		w := wantPeers[i]
		if p.Name != w.Name || p.Address != w.Address || !slices.Equal(p.Functions, w.Functions) || p.MaxConns != w.MaxConns {
			t.Errorf("peers[%d] = %+v, want %+v", i, p, w)
		}
	}
}

// A config file named by a relative path still yields absolute socket
// paths: the transport needs unix:///absolute/path.
func TestLoadConfigRelativeFile(t *testing.T) {
	path := writeConfig(t, `
node:
  listen: {unix: a.sock}
functions:
  - {name: f, module: fn.wasm}
peers:
  - {name: b, address: "unix://b.sock", functions: [g]}
`)
	dir := filepath.Dir(path)
	t.Chdir(filepath.Dir(dir))
	cfg, err := node.LoadConfig(filepath.Join(filepath.Base(dir), "node.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Node.Listen.Unix, filepath.Join(dir, "a.sock"); got != want {
		t.Errorf("listen.unix = %q, want %q", got, want)
	}
	if got, want := cfg.Peers[0].Address, "unix://"+filepath.Join(dir, "b.sock"); got != want {
		t.Errorf("peers[0].address = %q, want %q", got, want)
	}
}

func TestLoadConfigUnixMode(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want fs.FileMode
	}{
		{`"0600"`, 0o600},
		{`0600`, 0o600},
		{`660`, 0o660},
		{`'0777'`, 0o777},
		{`7`, 0o7},
		{`0640`, 0o640},
	} {
		path := writeConfig(t, "node:\n  listen:\n    unix_mode: "+tc.yaml+"\nfunctions:\n  - {name: f, module: fn.wasm}\n")
		cfg, err := node.LoadConfig(path)
		if err != nil {
			t.Errorf("unix_mode: %s: %v", tc.yaml, err)
			continue
		}
		if got := cfg.Node.Listen.UnixMode; got != tc.want {
			t.Errorf("unix_mode: %s = %#o, want %#o", tc.yaml, got, tc.want)
		}
	}
}

func TestLoadConfigUnixGroup(t *testing.T) {
	gid := os.Getgid()
	g, err := user.LookupGroupId(strconv.Itoa(gid))
	if err != nil {
		// The process's group has no name here; group 0 has one on any Linux.
		gid = 0
		if g, err = user.LookupGroupId("0"); err != nil {
			t.Fatalf("no group with a name to test: %v", err)
		}
	}
	for _, tc := range []struct {
		yaml string
		want int
	}{
		{g.Name, gid},
		{`"` + g.Name + `"`, gid},
		{"0", 0},
		{"4294967294", 4294967294},
		{`"1000"`, 1000},
		{`""`, -1},
	} {
		path := writeConfig(t, "node:\n  listen:\n    unix_group: "+tc.yaml+"\nfunctions:\n  - {name: f, module: fn.wasm}\n")
		cfg, err := node.LoadConfig(path)
		if err != nil {
			t.Errorf("unix_group: %s: %v", tc.yaml, err)
			continue
		}
		if got := cfg.Node.Listen.UnixGID; got != tc.want {
			t.Errorf("unix_group: %s: UnixGID = %d, want %d", tc.yaml, got, tc.want)
		}
	}
}

// TestConfigBuiltInGo checks that New applies the defaults to a Config
// built in Go, resolves its relative socket paths against the working
// directory, and leaves the caller's Config alone.
func TestConfigBuiltInGo(t *testing.T) {
	module := wasmbuild.ForTest(t, testdata+"echo") // builds in the module's directory
	wd := t.TempDir()
	t.Chdir(wd)
	writeFiles(t, wd, testToken+"\n", "tokens")
	cfg := &node.Config{
		Node: node.NodeConfig{
			CacheDir: cacheDir,
			Listen:   node.ListenConfig{Unix: "a.sock", UnixGID: 7, UnixAllow: node.UnixAllow{UIDs: []uint32{1000}}},
			HTTPAuth: node.HTTPAuthConfig{TokenFile: "tokens"},
		},
		Functions: []node.FunctionConfig{{Name: "echo", Module: module, Pool: 1}},
		Peers:     []node.PeerConfig{{Name: "b", Address: "unix://b.sock", Functions: []string{"remote"}}},
	}
	orig := *cfg
	origPeers := slices.Clone(cfg.Peers)
	n, err := node.New(context.Background(), cfg, &node.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	got := n.Config()
	wantListen := node.ListenConfig{Unix: filepath.Join(wd, "a.sock"), UnixMode: node.DefaultUnixMode, UnixGID: -1, UnixAllow: node.UnixAllow{UIDs: []uint32{1000}}, MaxConns: node.DefaultListenConns,
		MaxConnsPerSource: node.DefaultConnsPerSource, FirstFrameTimeout: node.DefaultFirstFrameTimeout}
	if !reflect.DeepEqual(got.Node.Listen, wantListen) {
		t.Errorf("listen = %+v, want %+v", got.Node.Listen, wantListen)
	}
	if want := filepath.Join(wd, "tokens"); got.Node.HTTPAuth.TokenFile != want {
		t.Errorf("http_auth.token_file = %q, want %q", got.Node.HTTPAuth.TokenFile, want)
	}
	if got.Node.Listen.UnixAllow.UIDs[0] = 1; cfg.Node.Listen.UnixAllow.UIDs[0] != 1000 {
		t.Errorf("the node's unix_allow.uids share the caller's array")
	}
	if got.Node.TCPSend != transport.MechanismAuto || got.Node.DialTimeout != node.DefaultDialTimeout || got.Node.IOTimeout != node.DefaultIOTimeout || got.Node.Verify {
		t.Errorf("node = %+v", got.Node)
	}
	if len(got.Peers) != 1 || got.Peers[0].Address != "unix://"+filepath.Join(wd, "b.sock") || got.Peers[0].MaxConns != node.DefaultPeerConns {
		t.Errorf("peers = %+v", got.Peers)
	}
	if !reflect.DeepEqual(cfg.Node, orig.Node) || cfg.Peers[0].Address != origPeers[0].Address || cfg.Peers[0].MaxConns != 0 {
		t.Errorf("New modified its argument: node %+v, peers %+v", cfg.Node, cfg.Peers)
	}
}

// TestConfigBuiltInGoErrors checks the validation New applies to fields
// a Config built in Go can hold and YAML cannot.
func TestConfigBuiltInGoErrors(t *testing.T) {
	module := filepath.Join(t.TempDir(), "fn.wasm")
	if err := os.WriteFile(module, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		edit  func(*node.Config)
		field string
		msg   string
	}{
		{"setuid mode", func(c *node.Config) { c.Node.Listen.UnixMode = fs.ModeSetuid | 0o600 }, "node.listen.unix_mode", "want permission bits only"},
		{"listen max_conns", func(c *node.Config) { c.Node.Listen.MaxConns = node.MaxListenConns + 1 }, "node.listen.max_conns", "out of range 1..65536"},
		{"tcp_send", func(c *node.Config) { c.Node.TCPSend = transport.MechanismWritev }, "node.tcp_send", "want auto, write or splice"},
		{"sockmap_pin_dir", func(c *node.Config) { c.Node.SockmapPinDir = "bpf/rr" }, "node.sockmap_pin_dir", "want an absolute path"},
		{"dial_timeout", func(c *node.Config) { c.Node.DialTimeout = -time.Second }, "node.dial_timeout", "not positive"},
		{"io_timeout", func(c *node.Config) { c.Node.IOTimeout = -time.Second }, "node.io_timeout", "not positive"},
		{"peer max_conns", func(c *node.Config) { c.Peers[0].MaxConns = -1 }, "peers[0].max_conns", "out of range 1..1024"},
		{"peer address", func(c *node.Config) { c.Peers[0].Address = "b.sock" }, "peers[0].address", "want unix:///absolute/path"},
		{"uid -1", func(c *node.Config) { c.Node.Listen.UnixAllow.UIDs = []uint32{0, 1<<32 - 1} }, "node.listen.unix_allow.uids[1]", "out of range 0..4294967294"},
		{"gid -1", func(c *node.Config) { c.Node.Listen.UnixAllow.GIDs = []uint32{1<<32 - 1} }, "node.listen.unix_allow.gids[0]", "out of range"},
		{"tls partial", func(c *node.Config) { c.Node.TLS = node.TLSConfig{Cert: module, CA: module} }, "node.tls.key", "needs cert, key and ca"},
		{"keys relative", func(c *node.Config) { c.Node.Auth.Keys = "rr-no-such-keys" }, "node.auth.keys", "rr-no-such-keys: no such file"},
		{"tcp exposed", func(c *node.Config) { c.Node.Listen.TCP = ":0" }, "node.listen.tcp", "rrnode keygen > keys"},
		{"http exposed", func(c *node.Config) { c.Node.HTTP = "0.0.0.0:8080" }, "node.http", "node.http_auth.token_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &node.Config{
				Functions: []node.FunctionConfig{{Name: "f", Module: module}},
				Peers:     []node.PeerConfig{{Name: "b", Address: "unix:///run/b.sock", Functions: []string{"g"}}},
			}
			tc.edit(cfg)
			_, err := node.New(context.Background(), cfg, nil)
			var ce *node.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("New = %v, want a *ConfigError", err)
			}
			if ce.Field != tc.field || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("New = %v, want field %s saying %q", err, tc.field, tc.msg)
			}
		})
	}
}

func TestLoadConfigErrors(t *testing.T) {
	const fn = "\n  - name: f\n    module: fn.wasm"
	const fns = "functions:" + fn + "\n"
	// listen, peer and peers make the transport sections of a test config.
	listen := func(field string) string { return "node:\n  listen:\n    " + field + "\n" + fns }
	peer := func(fields string) string { return fns + "peers:\n  - {" + fields + "}\n" }
	peers := func(list ...string) string {
		s := fns + "peers:\n"
		for _, p := range list {
			s += "  - {" + p + "}\n"
		}
		return s
	}
	const b = "name: b, address: 'unix:///run/b.sock'"
	long := "/" + strings.Repeat("x", 107)
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
		{"size unit case hint", "node:\n  max_payload: 1mib\nfunctions:" + fn, "node.max_payload", `"1mib": unit "mib": units are case-sensitive: write MiB (line 2); want a size: an integer number of bytes, or a number and a unit`},
		{"ambiguous size unit", "node:\n  max_payload: 64M\nfunctions:" + fn, "node.max_payload", "docs/CONFIG.md#sizes"},
		{"size not whole bytes", "functions:" + fn + "\n    max_payload: 1.3KiB", "functions[0].max_payload", "not a whole number of bytes"},
		{"size a list", "functions:" + fn + "\n    max_payload: [1]", "functions[0].max_payload", "a list or mapping"},
		{"size SI over 4GiB", "node:\n  max_payload: 4.3GB\nfunctions:" + fn, "node.max_payload", "under 4GiB"},
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
		{"max_payload over max_memory", "functions:" + fn + "\n    max_memory: 64MiB", "functions[0].max_payload", "256MiB is not under max_memory 64MiB"},
		{"max_memory under a page", "functions:" + fn + "\n    max_memory: 1KiB", "functions[0].max_memory", "out of range: want 64KiB..4GiB"},
		{"max_memory over 4GiB", "functions:" + fn + "\n    max_memory: 5GiB", "functions[0].max_memory", "out of range: want 64KiB..4GiB"},
		{"recycle_memory zero", "functions:" + fn + "\n    recycle_memory: 0", "functions[0].recycle_memory", "out of range"},
		{"queue negative", "functions:" + fn + "\n    queue: -1", "functions[0].queue", "out of range 0..65536"},
		{"max_per_source over pool", "functions:" + fn + "\n    pool: 2\n    max_per_source: 3", "functions[0].max_per_source", "out of range 0..2"},
		{"read_progress_timeout", "node:\n  read_progress_timeout: -1s\nfunctions:" + fn, "node.read_progress_timeout", "not positive"},

		// node.listen
		{"listen not a mapping", "node:\n  listen: [a]\n" + fns, "node.listen", "want a mapping"},
		{"unknown listen field", listen("unixx: a.sock"), "node.listen.unixx", "unknown field"},
		{"unix not a string", listen("unix: [a]"), "node.listen.unix", "want a string"},
		{"unix path too long", listen("unix: " + long), "node.listen.unix", "at most 107"},
		{"unix_mode 0o", listen("unix_mode: 0o600"), "node.listen.unix_mode", "want octal permission bits"},
		{"unix_mode digit 8", listen("unix_mode: '0680'"), "node.listen.unix_mode", "want octal permission bits"},
		{"unix_mode words", listen("unix_mode: rw"), "node.listen.unix_mode", `got "rw"`},
		{"unix_mode empty", listen("unix_mode: ''"), "node.listen.unix_mode", "want octal permission bits"},
		{"unix_mode list", listen("unix_mode: [6]"), "node.listen.unix_mode", "want octal permission bits"},
		{"unix_mode sticky", listen("unix_mode: '1777'"), "node.listen.unix_mode", "out of range 0001..0777"},
		{"unix_mode zero", listen("unix_mode: '0000'"), "node.listen.unix_mode", "out of range 0001..0777"},
		{"unix_group unknown", listen("unix_group: rr-no-such-group"), "node.listen.unix_group", "rr-no-such-group"},
		{"unix_group gid -1", listen("unix_group: 4294967295"), "node.listen.unix_group", "out of range"},
		{"unix_group negative", listen("unix_group: -5"), "node.listen.unix_group", "-5"},
		{"tcp no port", listen("tcp: localhost"), "node.listen.tcp", "want host:port"},
		{"tcp port too big", listen("tcp: 127.0.0.1:65536"), "node.listen.tcp", "0..65535"},
		{"tcp port name", listen("tcp: ':http'"), "node.listen.tcp", "want a number"},
		{"tcp url", listen("tcp: tcp://0.0.0.0:7070"), "node.listen.tcp", "want host:port"},
		{"listen max_conns zero", listen("max_conns: 0"), "node.listen.max_conns", "out of range 1..65536"},
		{"listen max_conns too big", listen("max_conns: 65537"), "node.listen.max_conns", "out of range 1..65536"},
		{"listen max_conns words", listen("max_conns: lots"), "node.listen.max_conns", "want an integer"},
		{"max_conns_per_source over max_conns", listen("max_conns: 10\n    max_conns_per_source: 11"), "node.listen.max_conns_per_source", "out of range 1..10"},
		{"max_conns_per_source zero", listen("max_conns_per_source: 0"), "node.listen.max_conns_per_source", "out of range"},
		{"first_frame_timeout", listen("first_frame_timeout: soon"), "node.listen.first_frame_timeout", "want a duration"},
		{"unix_allow not a mapping", listen("unix_allow: [1000]"), "node.listen.unix_allow", "want a mapping"},
		{"unknown unix_allow field", listen("unix_allow: {users: [1]}"), "node.listen.unix_allow.users", "unknown field"},
		{"uids not a list", listen("unix_allow: {uids: 1000}"), "node.listen.unix_allow.uids", "want a list"},
		{"uid negative", listen("unix_allow: {uids: [-1]}"), "node.listen.unix_allow.uids[0]", "want an integer 0..4294967294"},
		{"uid 2^32-1", listen("unix_allow: {uids: [0, 4294967295]}"), "node.listen.unix_allow.uids[1]", `got "4294967295"`},
		{"uid a name", listen("unix_allow: {uids: [root]}"), "node.listen.unix_allow.uids[0]", `got "root"`},
		{"uid quoted", listen("unix_allow: {uids: ['1000']}"), "node.listen.unix_allow.uids[0]", "want an integer"},
		{"uid a list", listen("unix_allow: {uids: [[1]]}"), "node.listen.unix_allow.uids[0]", "want an integer"},
		{"gid too big", listen("unix_allow: {gids: [1, 2, 99999999999]}"), "node.listen.unix_allow.gids[2]", "want an integer"},
		{"gid on its line", listen("unix_allow:\n      gids:\n        - 1\n        - x"), "node.listen.unix_allow.gids[1]", "(line 6)"},

		// node.auth, node.http_auth, node.tls
		{"auth not a mapping", "node:\n  auth: keys\n" + fns, "node.auth", "want a mapping"},
		{"unknown auth field", "node:\n  auth: {key: k}\n" + fns, "node.auth.key", "unknown field"},
		{"keys missing", "node:\n  auth: {keys: keys}\n" + fns, "node.auth.keys", "no such file or directory: make it with `(umask 077; rrnode keygen > "},
		{"keys a directory", "node:\n  auth: {keys: .}\n" + fns, "node.auth.keys", "not a regular file"},
		{"auth insecure not a bool", "node:\n  auth: {insecure: yes}\n" + fns, "node.auth.insecure", "want true or false"},
		{"unknown http_auth field", "node:\n  http_auth: {tokens: t}\n" + fns, "node.http_auth.tokens", "unknown field"},
		{"token_file missing", "node:\n  http_auth: {token_file: tokens}\n" + fns, "node.http_auth.token_file", "no such file or directory: make it with `(umask 077; rrnode keygen > "},
		{"token_file a directory", "node:\n  http_auth: {token_file: /}\n" + fns, "node.http_auth.token_file", "/ is not a regular file"},
		{"http_auth insecure not a bool", "node:\n  http_auth: {insecure: 1}\n" + fns, "node.http_auth.insecure", "want true or false"},
		{"unknown tls field", "node:\n  tls: {certificate: c}\n" + fns, "node.tls.certificate", "unknown field"},
		{"tls cert only", "node:\n  tls: {cert: fn.wasm}\n" + fns, "node.tls.key", "node.tls needs cert, key and ca, or none of them"},
		{"tls no ca", "node:\n  tls: {cert: fn.wasm, key: fn.wasm}\n" + fns, "node.tls.ca", "missing"},
		{"tls no cert", "node:\n  tls: {key: fn.wasm, ca: fn.wasm}\n" + fns, "node.tls.cert", "missing"},
		{"tls ca missing", "node:\n  tls: {cert: fn.wasm, key: fn.wasm, ca: ca.crt}\n" + fns, "node.tls.ca", "no such file"},

		// node transport fields
		{"tcp_send", "node:\n  tcp_send: sendfile\n" + fns, "node.tcp_send", `"sendfile": want auto, write or splice`},
		{"tcp_send case", "node:\n  tcp_send: Splice\n" + fns, "node.tcp_send", "want auto, write or splice"},
		{"sockmap_pin_dir", "node:\n  sockmap_pin_dir: rr\n" + fns, "node.sockmap_pin_dir", `"rr": want an absolute path`},
		{"verify not a bool", "node:\n  verify: on\n" + fns, "node.verify", "want true or false"},
		{"dial_timeout zero", "node:\n  dial_timeout: 0s\n" + fns, "node.dial_timeout", "not positive"},
		{"dial_timeout words", "node:\n  dial_timeout: soon\n" + fns, "node.dial_timeout", "want a duration"},
		{"io_timeout negative", "node:\n  io_timeout: -1s\n" + fns, "node.io_timeout", "not positive"},
		{"io_timeout no unit", "node:\n  io_timeout: 30\n" + fns, "node.io_timeout", "want a duration"},

		// peers
		{"peers not a list", fns + "peers: {name: b}", "peers", "want a list"},
		{"unknown peer field", peer(b + ", functions: [g], adress: x"), "peers[0].adress", "unknown field"},
		{"peer name missing", peer("address: 'unix:///b', functions: [g]"), "peers[0].name", "missing"},
		{"peer name invalid", peer("name: 'b c', address: 'unix:///b', functions: [g]"), "peers[0].name", "not a valid name"},
		{"peer name duplicate", peers(b+", functions: [g]", b+", functions: [h]"), "peers[1].name", `duplicate peer "b" (also peers[0])`},
		{"peer address missing", peer("name: b, functions: [g]"), "peers[0].address", "missing"},
		{"peer address scheme", peer("name: b, address: 'http://h:80', functions: [g]"), "peers[0].address", "want unix:///absolute/path, unix://relative/path or tcp://host:port"},
		{"peer address bare", peer("name: b, address: 'h:80', functions: [g]"), "peers[0].address", "want unix:///absolute/path"},
		{"peer unix no path", peer("name: b, address: 'unix://', functions: [g]"), "peers[0].address", "has no path"},
		{"peer unix query", peer("name: b, address: 'unix:///run/b?x', functions: [g]"), "peers[0].address", "cannot hold ?, # or %"},
		{"peer unix too long", peer("name: b, address: 'unix://" + long + "', functions: [g]"), "peers[0].address", "at most 107"},
		{"peer own socket", "node:\n  listen: {unix: a.sock}\n" + peer("name: b, address: 'unix://a.sock', functions: [g]"), "peers[0].address", "this node's own socket"},
		{"peer tcp no port", peer("name: b, address: 'tcp://h', functions: [g]"), "peers[0].address", "want host:port"},
		{"peer tcp port 0", peer("name: b, address: 'tcp://h:0', functions: [g]"), "peers[0].address", "1..65535"},
		{"peer tcp port too big", peer("name: b, address: 'tcp://h:65536', functions: [g]"), "peers[0].address", "1..65535"},
		{"peer tcp no host", peer("name: b, address: 'tcp://:7070', functions: [g]"), "peers[0].address", "has no host"},
		{"peer tcp path", peer("name: b, address: 'tcp://h:7070/x', functions: [g]"), "peers[0].address", "want a number"},
		{"peer functions missing", peer(b), "peers[0].functions", "no functions"},
		{"peer functions empty", peer(b + ", functions: []"), "peers[0].functions", "no functions"},
		{"peer functions not a list", peer(b + ", functions: g"), "peers[0].functions", "want a list"},
		{"peer function not a string", peer(b + ", functions: [[g]]"), "peers[0].functions[0]", "want a string"},
		{"peer function invalid", peer(b + ", functions: [g, a/b]"), "peers[0].functions[1]", `"a/b" is not a valid name`},
		{"peer function local", peer(b + ", functions: [g, f]"), "peers[0].functions[1]", `"f" is also a local function (functions[0])`},
		{"peer function twice", peer(b + ", functions: [g, h, g]"), "peers[0].functions[2]", `duplicate function "g" (also peers[0].functions[0])`},

		// cluster
		{"cluster unknown field", fns + "cluster: {dns: rr.local, ttl: 5s}", "cluster.ttl", "unknown field"},
		{"cluster port without dns", fns + "cluster: {port: 7070}", "cluster.dns", "missing"},
		{"cluster dns not a name", fns + "cluster: {dns: 'a..b'}", "cluster.dns", `"a..b" is not a DNS name`},
		{"cluster dns hyphen", fns + "cluster: {dns: '-a.b'}", "cluster.dns", "is not a DNS name"},
		{"cluster port", fns + "cluster: {dns: rr.local, port: 70000}", "cluster.port", "out of range 1..65535"},
		{"cluster refresh", fns + "cluster: {dns: rr.local, refresh: 1ms}", "cluster.refresh", "1ms is under 100ms"},
		{"cluster refresh words", fns + "cluster: {dns: rr.local, refresh: often}", "cluster.refresh", "want a duration"},
		{"cluster resolver", fns + "cluster: {dns: rr.local, resolver: 10.0.0.1}", "cluster.resolver", "want host:port"},
		{"cluster resolver port", fns + "cluster: {dns: rr.local, resolver: '10.0.0.1:0'}", "cluster.resolver", "1..65535"},
		{"cluster max_conns", fns + "cluster: {dns: rr.local, max_conns: 0}", "cluster.max_conns", "out of range 1..1024"},
		{"route", "node:\n  route: closest\n" + fns, "node.route", `"closest": want nearest or any`},
		{"peer max_conns zero", peer(b + ", functions: [g], max_conns: 0"), "peers[0].max_conns", "out of range 1..1024"},
		{"peer max_conns too big", peer(b + ", functions: [g], max_conns: 1025"), "peers[0].max_conns", "out of range 1..1024"},
		{"peer max_conns words", peer(b + ", functions: [g], max_conns: few"), "peers[0].max_conns", "want an integer"},
		{"second peer field", peers(b+", functions: [g]", "name: c, address: 'unix:///c', functions: [h], max_conns: -2"), "peers[1].max_conns", "out of range"},
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

// writeFiles writes each name (a path relative to dir) with content.
func writeFiles(t *testing.T, dir, content string, names ...string) {
	t.Helper()
	for _, name := range names {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// testToken is a token of node.http_auth.token_file, as `rrnode keygen`
// prints one.
const testToken = "3b0a6f4f0f4b1e0fd2c9a1d8e5f7a6b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8"

func TestLoadConfigAuth(t *testing.T) {
	path := writeConfig(t, `
node:
  http: 0.0.0.0:8080
  listen:
    unix: a.sock
    unix_allow:
      uids: [0, 1000, 4294967294]
      gids: [5]
    tcp: :7070
  auth:
    keys: secret/keys
    insecure: true
  http_auth:
    token_file: ../tokens
    insecure: false
  tls:
    cert: tls/node.crt
    key: /abs/node.key
    ca: tls/ca.crt
functions:
  - {name: f, module: fn.wasm}
`)
	dir := filepath.Dir(path)
	_, err := node.LoadConfig(path)
	var ce *node.ConfigError
	if !errors.As(err, &ce) || ce.Field != "node.auth.keys" || !strings.Contains(err.Error(), filepath.Join(dir, "secret", "keys")) {
		t.Fatalf("LoadConfig without the files = %v, want node.auth.keys naming %s", err, filepath.Join(dir, "secret", "keys"))
	}
	writeFiles(t, dir, testToken+"\n", "secret/keys", "../tokens", "tls/node.crt", "tls/ca.crt")
	// An absolute path stays as it is: make one that exists.
	key := filepath.Join(t.TempDir(), "node.key")
	writeFiles(t, filepath.Dir(key), "", "node.key")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(data), "/abs/node.key", key, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := node.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	n := cfg.Node
	if want := (node.UnixAllow{UIDs: []uint32{0, 1000, 4294967294}, GIDs: []uint32{5}}); !reflect.DeepEqual(n.Listen.UnixAllow, want) {
		t.Errorf("listen.unix_allow = %+v, want %+v", n.Listen.UnixAllow, want)
	}
	if want := (node.AuthConfig{Keys: filepath.Join(dir, "secret", "keys"), Insecure: true}); n.Auth != want {
		t.Errorf("auth = %+v, want %+v", n.Auth, want)
	}
	if want := (node.HTTPAuthConfig{TokenFile: filepath.Join(filepath.Dir(dir), "tokens")}); n.HTTPAuth != want {
		t.Errorf("http_auth = %+v, want %+v", n.HTTPAuth, want)
	}
	if want := (node.TLSConfig{Cert: filepath.Join(dir, "tls", "node.crt"), Key: key, CA: filepath.Join(dir, "tls", "ca.crt")}); n.TLS != want {
		t.Errorf("tls = %+v, want %+v", n.TLS, want)
	}
	// Keys are set: auth.insecure allows nothing more, and nothing is
	// exposed without authentication.
	if w := cfg.Insecure(); w != nil {
		t.Errorf("Insecure() = %q, want none", w)
	}
}

// TestConfigExposure checks the safe default: a tcp listener or an HTTP
// ingress on an address that is not loopback needs authentication or an
// explicit insecure: true, which Insecure reports.
func TestConfigExposure(t *testing.T) {
	const fns = "functions:\n  - {name: f, module: fn.wasm}\n"
	for _, tc := range []struct {
		name, node string
		field      string   // the refused field, "" if accepted
		warnings   []string // what Insecure says of an accepted one
	}{
		{"loopback tcp", "listen: {tcp: '127.0.0.1:7070'}", "", nil},
		{"loopback tcp 127/8", "listen: {tcp: '127.3.2.1:0'}", "", nil},
		{"loopback tcp ::1", "listen: {tcp: '[::1]:7070'}", "", nil},
		{"loopback tcp localhost", "listen: {tcp: 'localhost:7070'}", "", nil},
		{"loopback http", "http: '127.0.0.1:8080'", "", nil},
		{"loopback http localhost", "http: 'localhost:8080'", "", nil},
		{"loopback http ::1", "http: '[::1]:8080'", "", nil},
		{"loopback with insecure", "listen: {tcp: '127.0.0.1:7070'}\n  http: '[::1]:80'\n  auth: {insecure: true}\n  http_auth: {insecure: true}", "", nil},

		{"tcp any", "listen: {tcp: '0.0.0.0:7070'}", "node.listen.tcp", nil},
		{"tcp no host", "listen: {tcp: ':7070'}", "node.listen.tcp", nil},
		{"tcp ipv6 any", "listen: {tcp: '[::]:7070'}", "node.listen.tcp", nil},
		{"tcp other ip", "listen: {tcp: '198.18.0.2:7070'}", "node.listen.tcp", nil},
		{"tcp hostname", "listen: {tcp: 'node-b.internal:7070'}", "node.listen.tcp", nil},
		{"tcp loopback-like name", "listen: {tcp: '127.0.0.1.nip.io:7070'}", "node.listen.tcp", nil},
		{"tcp with keys", "listen: {tcp: '0.0.0.0:7070'}\n  auth: {keys: keys}", "", nil},
		{"tcp with tls", "listen: {tcp: '0.0.0.0:7070'}\n  tls: {cert: keys, key: keys, ca: keys}", "", nil},
		{"tcp insecure", "listen: {tcp: '0.0.0.0:7070'}\n  auth: {insecure: true}", "", []string{"node.listen.tcp 0.0.0.0:7070 is not loopback"}},
		{"tcp insecure: false", "listen: {tcp: '0.0.0.0:7070'}\n  auth: {insecure: false}", "node.listen.tcp", nil},
		{"tcp http_auth does not do", "listen: {tcp: '0.0.0.0:7070'}\n  http_auth: {token_file: keys, insecure: true}", "node.listen.tcp", nil},

		{"http any", "http: '0.0.0.0:8080'", "node.http", nil},
		{"http no host", "http: ':8080'", "node.http", nil},
		{"http other ip", "http: '10.0.0.1:8080'", "node.http", nil},
		{"http with token", "http: '0.0.0.0:8080'\n  http_auth: {token_file: keys}", "", nil},
		{"http insecure", "http: '0.0.0.0:8080'\n  http_auth: {insecure: true}", "", []string{"node.http 0.0.0.0:8080 is not loopback"}},
		{"http auth does not do", "http: '0.0.0.0:8080'\n  auth: {keys: keys, insecure: true}", "node.http", nil},
		{"both insecure", "http: '[::]:8080'\n  listen: {tcp: ':7070'}\n  auth: {insecure: true}\n  http_auth: {insecure: true}", "",
			[]string{"node.listen.tcp :7070 is not loopback", "node.http [::]:8080 is not loopback"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, "node:\n  "+tc.node+"\n"+fns)
			writeFiles(t, filepath.Dir(path), testToken+"\n", "keys")
			cfg, err := node.LoadConfig(path)
			if tc.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				got := cfg.Insecure()
				if len(got) != len(tc.warnings) {
					t.Fatalf("Insecure() = %q, want %d warnings", got, len(tc.warnings))
				}
				for i, w := range tc.warnings {
					if !strings.HasPrefix(got[i], w) || !strings.Contains(got[i], "anyone who can reach it") {
						t.Errorf("Insecure()[%d] = %q, want it to start with %q and say why", i, got[i], w)
					}
				}
				return
			}
			var ce *node.ConfigError
			if !errors.As(err, &ce) || ce.Field != tc.field {
				t.Fatalf("LoadConfig = %v, want a refusal of %s", err, tc.field)
			}
			want := []string{"not a loopback address", "anyone who can reach it", "on a network you trust"}
			if tc.field == "node.listen.tcp" {
				want = append(want, "rrnode keygen > keys", "node.auth.keys", "node.tls", "node.auth.insecure: true", "write into this node's guests")
			} else {
				want = append(want, "node.http_auth.token_file", "node.http_auth.insecure: true")
			}
			for _, w := range want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestInsecureWarnsAtStart checks that New logs each exposure allowed by
// insecure: true, once.
func TestInsecureWarnsAtStart(t *testing.T) {
	n := startNode(t, strings.Replace(testConfig, "node:\n", "node:\n  http: 0.0.0.0:0\n  http_auth: {insecure: true}\n", 1), nil)
	logs := n.logs.String()
	if c := strings.Count(logs, "node.http 0.0.0.0:0 is not loopback"); c != 1 || !strings.Contains(logs, `"level":"WARN"`) {
		t.Errorf("the warning is logged %d times, want once at WARN; log:\n%s", c, logs)
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
