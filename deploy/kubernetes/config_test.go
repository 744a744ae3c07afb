package kubernetes

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/roadrunner-wasm/roadrunner/node"
)

// Where the image has its modules (Dockerfile) and where the pod mounts
// the rrnode-auth Secret (daemonset.yaml).
const (
	wasmDir = "/usr/share/rrnode/wasm/"
	authDir = "/etc/rrnode/auth/"
)

// nodeConfig is a node config as node.ParseConfig returns it, and its
// authentication settings as the YAML spells them (node.auth.keys,
// node.http_auth.token_file, the insecure switches): the deploy's
// contract with rrnode, read without depending on how package node names
// them in Go.
type nodeConfig struct {
	*node.Config
	Auth     authSettings
	HTTPAuth httpAuthSettings
	// node.name and node.listen.unix as written, before ParseConfig puts
	// the name (by default the hostname: a pod's name) for {name}.
	WrittenName, WrittenUnix string
}

type authSettings struct {
	Keys     string `json:"keys"`
	Insecure bool   `json:"insecure"`
}

type httpAuthSettings struct {
	TokenFile string `json:"token_file"`
	Insecure  bool   `json:"insecure"`
}

// parseNodeConfig parses a node config that names files of the image or
// the pod: the modules under wasmDir and the keys and token under authDir.
// Here, stand-ins under a temporary directory take their place (empty
// modules, a fresh key and token), so that ParseConfig's checks that the
// files exist pass on everything else.
func parseNodeConfig(t *testing.T, name, text string) *nodeConfig {
	t.Helper()
	var out nodeConfig
	var raw struct {
		Node struct {
			Name   string `json:"name"`
			Listen struct {
				Unix string `json:"unix"`
			} `json:"listen"`
			Auth     authSettings     `json:"auth"`
			HTTPAuth httpAuthSettings `json:"http_auth"`
		} `json:"node"`
	}
	if err := yaml.Unmarshal([]byte(text), &raw); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	out.Auth, out.HTTPAuth = raw.Node.Auth, raw.Node.HTTPAuth
	out.WrittenName, out.WrittenUnix = raw.Node.Name, raw.Node.Listen.Unix

	dir := t.TempDir()
	for _, f := range []string{"producer", "transform", "consumer"} {
		writeFile(t, filepath.Join(dir, "wasm", f+".wasm"), nil)
	}
	writeFile(t, filepath.Join(dir, "auth", "keys"), []byte(newKey(t)+"\n"))
	writeFile(t, filepath.Join(dir, "auth", "token"), []byte(newKey(t)+"\n"))
	local := strings.NewReplacer(wasmDir, dir+"/wasm/", authDir, dir+"/auth/")

	cfg, err := node.ParseConfig([]byte(local.Replace(text)), name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	out.Config = cfg
	return &out
}

// newKey is what `rrnode keygen` prints: 32 random bytes, 64 hex digits.
func newKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func writeFile(t *testing.T, file string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestImageConfig checks the image's default config (deploy/rrnode.yaml,
// /etc/rrnode/rrnode.yaml in the image): a valid node config that, binding
// every interface, names the keys and the token where the DaemonSet mounts
// the rrnode-auth Secret, so that one Secret (or one directory mounted at
// /etc/rrnode/auth) serves both.
func TestImageConfig(t *testing.T) {
	cfg := parseNodeConfig(t, "../rrnode.yaml", string(mustRead(t, "../rrnode.yaml")))
	if cfg.Node.HTTP != "0.0.0.0:8080" || cfg.Node.Listen.TCP != "0.0.0.0:7070" {
		t.Errorf("node.http %q, node.listen.tcp %q: want every interface, ports 8080 and 7070 (the Dockerfile's EXPOSE)", cfg.Node.HTTP, cfg.Node.Listen.TCP)
	}
	if cfg.Auth.Keys != authDir+"keys" || cfg.HTTPAuth.TokenFile != authDir+"token" || cfg.Auth.Insecure || cfg.HTTPAuth.Insecure {
		t.Errorf("node.auth %+v, node.http_auth %+v: want the keys at %skeys and the token at %stoken, not insecure", cfg.Auth, cfg.HTTPAuth, authDir, authDir)
	}
}
