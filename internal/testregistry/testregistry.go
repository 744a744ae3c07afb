package testregistry

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/roadrunner-wasm/roadrunner/internal/testcerts"
)

// Options shape the registry Start serves.
type Options struct {
	// TLS serves HTTPS with a certificate for 127.0.0.1 signed by a fresh
	// CA, written to Registry.CAFile.
	TLS bool
	// User and Password, when User is set, are required as HTTP Basic
	// credentials of every request: without them the answer is 401 with
	// a WWW-Authenticate: Basic challenge.
	User, Password string
}

// Registry is a running registry.
type Registry struct {
	Host     string // 127.0.0.1:PORT, as references name it
	CAFile   string // the CA's certificate, PEM, when Options.TLS
	AuthFile string // a Docker config.json with Options' credentials for Host, when Options.User is set
	BlobDir  string // where blobs are stored, as sha256/HEX files

	srv  *httptest.Server
	once sync.Once
}

// Start serves a registry until the test ends (or Close).
func Start(t testing.TB, o Options) *Registry {
	t.Helper()
	r := &Registry{BlobDir: t.TempDir()}
	var h http.Handler = registry.New(
		registry.Logger(log.New(io.Discard, "", 0)),
		registry.WithBlobHandler(newBlobStore(r.BlobDir)),
	)
	if o.User != "" {
		h = basicAuth(h, o.User, o.Password)
	}
	r.srv = httptest.NewUnstartedServer(h)
	r.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // a refused TLS handshake is a test's point
	if o.TLS {
		dir := t.TempDir()
		ca := testcerts.NewCA(t, dir, "registry")
		leaf := ca.Issue(t, "localhost")
		cert, err := tls.LoadX509KeyPair(leaf.Cert, leaf.Key)
		if err != nil {
			t.Fatalf("testregistry: %v", err)
		}
		r.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
		r.srv.StartTLS()
		r.CAFile = ca.File
	} else {
		r.srv.Start()
	}
	r.Host = r.srv.Listener.Addr().String()
	t.Cleanup(r.Close)
	if o.User != "" {
		r.AuthFile = filepath.Join(t.TempDir(), "config.json")
		cfg := map[string]any{"auths": map[string]any{r.Host: map[string]string{
			"auth": base64.StdEncoding.EncodeToString([]byte(o.User + ":" + o.Password)),
		}}}
		b, _ := json.Marshal(cfg)
		if err := os.WriteFile(r.AuthFile, b, 0o600); err != nil {
			t.Fatalf("testregistry: %v", err)
		}
	}
	return r
}

// Close stops serving: connections are closed and the port refuses new
// ones, as a registry that went down. Blobs stay in BlobDir.
func (r *Registry) Close() {
	r.once.Do(func() {
		r.srv.CloseClientConnections()
		r.srv.Close()
	})
}

// basicAuth answers 401 to every request without the credentials.
func basicAuth(h http.Handler, user, password string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if u, p, ok := req.BasicAuth(); !ok || u != user || p != password {
			w.Header().Set("WWW-Authenticate", `Basic realm="testregistry"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.Copy(w, strings.NewReader(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
			return
		}
		h.ServeHTTP(w, req)
	})
}
