package ociwasm

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"time"

	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
)

// DefaultTimeout bounds a request that makes no progress when
// Options.Timeout is 0.
const DefaultTimeout = 30 * time.Second

// Options are how Pull and Push reach registries. nil means anonymous
// HTTPS with the system's CAs, no cache, DefaultTimeout.
type Options struct {
	// AuthFile is a Docker config.json: {"auths": {"HOST[:PORT]": {"auth":
	// base64("user:password")}}} or "username"/"password" in place of
	// "auth" — the .dockerconfigjson of a Kubernetes imagePullSecret. It is
	// read at each Pull and Push. "" is anonymous. Credential helpers
	// ("credsStore", "credHelpers") are not run: a file naming one is
	// refused, so that credentials do not silently go missing.
	AuthFile string
	// PlainHTTP lists the registries (host:port, as written in references)
	// spoken to over plain HTTP; every other registry over HTTPS.
	PlainHTTP []string
	// CAFile is a PEM file of CA certificates trusted for HTTPS registries
	// in addition to the system's: one setting serves every registry, and a
	// private registry's CA must not cost the public ones their trust.
	CAFile string
	// CacheDir is the content cache: blobs/sha256/HEX files, each checked
	// against its name when read. Give it a directory of its own. "" is no
	// cache.
	CacheDir string
	// Timeout abandons a request that makes no progress for this long: its
	// connection, TLS handshake or answer, and with Pull a body that stops
	// arriving. 0 is DefaultTimeout.
	Timeout time.Duration
}

// session is the connection to one registry for one Pull or Push.
type session struct {
	repo      *remote.Repository
	transport *http.Transport
	timeout   time.Duration
	reg       string
}

// errStalled is the cause of a request abandoned by the timeout.
var errStalled = errors.New("no progress")

// open prepares a session with r's registry; it does not connect yet.
func (o *Options) open(r Reference) (*session, error) {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	roots, err := o.roots()
	if err != nil {
		return nil, err
	}
	var cred auth.CredentialFunc // anonymous
	if o.AuthFile != "" {
		store, err := loadAuthFile(o.AuthFile)
		if err != nil {
			return nil, err
		}
		cred = credentials.Credential(store)
	}
	t := http.DefaultTransport.(*http.Transport).Clone() // keeps $HTTPS_PROXY
	t.DialContext = (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext
	t.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	t.TLSHandshakeTimeout = timeout
	t.ResponseHeaderTimeout = timeout
	repo := &remote.Repository{
		Client: &auth.Client{
			Client:     &http.Client{Transport: t},
			Header:     http.Header{"User-Agent": {"rrnode"}},
			Credential: cred,
			Cache:      auth.NewCache(),
		},
		Reference: registry.Reference{Registry: r.Registry, Repository: r.Repository},
		PlainHTTP: slices.Contains(o.PlainHTTP, r.Registry),
	}
	return &session{repo: repo, transport: t, timeout: timeout, reg: r.Registry}, nil
}

func (s *session) close() { s.transport.CloseIdleConnections() }

// watch returns a context for one exchange that is cancelled, with cause
// errStalled, once s.timeout passes without a call of progress.
func (s *session) watch(ctx context.Context) (wctx context.Context, progress func(), stop func()) {
	wctx, cancel := context.WithCancelCause(ctx)
	t := time.AfterFunc(s.timeout, func() { cancel(errStalled) })
	return wctx, func() { t.Reset(s.timeout) }, func() { t.Stop(); cancel(nil) }
}

// stalled turns an error of an exchange watched by wctx into
// ErrUnreachable when the timeout ended it, and classifies it otherwise.
func (s *session) stalled(ctx, wctx context.Context, what string, err error) error {
	if context.Cause(wctx) == errStalled && ctx.Err() == nil {
		return fmt.Errorf("%w: %s: %s: no progress for %v", ErrUnreachable, s.reg, what, s.timeout)
	}
	return classify(ctx, s.reg, err)
}

// progressReader calls progress after each read that returned bytes.
type progressReader struct {
	r        io.Reader
	progress func()
}

func (p progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.progress()
	}
	return n, err
}

// roots is the system's CA pool, plus CAFile's certificates.
func (o *Options) roots() (*x509.CertPool, error) {
	if o.CAFile == "" {
		return nil, nil // the system's
	}
	pem, err := os.ReadFile(o.CAFile)
	if err != nil {
		return nil, fmt.Errorf("ca_file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("ca_file %s: no PEM certificate in it", o.CAFile)
	}
	return pool, nil
}

// loadAuthFile reads a Docker config.json's "auths".
func loadAuthFile(file string) (credentials.Store, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("auth_file: %w", err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, fmt.Errorf("auth_file %s: not a Docker config.json: %w", file, err)
	}
	for _, k := range []string{"credsStore", "credHelpers"} {
		if v, ok := top[k]; ok && string(v) != `""` && string(v) != "{}" && string(v) != "null" {
			return nil, fmt.Errorf("auth_file %s: %q names a credential helper, which is not run: write the credentials under \"auths\" instead", file, k)
		}
	}
	if _, ok := top["auths"]; !ok {
		return nil, fmt.Errorf("auth_file %s: no \"auths\": want a Docker config.json (a Kubernetes .dockerconfigjson), not the legacy .dockercfg", file)
	}
	store, err := credentials.NewMemoryStoreFromDockerConfig(b)
	if err != nil {
		return nil, fmt.Errorf("auth_file %s: %w", file, err)
	}
	return store, nil
}
