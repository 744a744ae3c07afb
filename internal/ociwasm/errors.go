package ociwasm

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// Errors of Pull and Push, for errors.Is. Each error returned wraps at most
// one of them, with the registry's own answer or the network's error.
var (
	// ErrDigestMismatch: content does not match the digest that names it
	// (a manifest against the reference's digest, a layer against its
	// manifest's descriptor, a cached file against its name).
	ErrDigestMismatch = errors.New("content does not match its digest")
	// ErrNotModule: the reference names something other than one Wasm
	// module: an index, a manifest of another media type, a manifest
	// without exactly one layer, or a layer that is not a Wasm module.
	ErrNotModule = errors.New("not a Wasm module artifact")
	// ErrUnauthorized: the registry answered 401 or 403.
	ErrUnauthorized = errors.New("registry denied access")
	// ErrUnreachable: no HTTP answer from the registry: it cannot be
	// dialled, the TLS handshake failed, or it stalled past the timeout.
	ErrUnreachable = errors.New("registry unreachable")
)

// classify wraps err, from an exchange with reg, with the sentinel it
// amounts to and a hint to fix it. ctx's own end is returned as it is.
func classify(ctx context.Context, reg string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return err
	}
	var resp *errcode.ErrorResponse
	if errors.As(err, &resp) && (resp.StatusCode == 401 || resp.StatusCode == 403) {
		return fmt.Errorf("%w: %w (node.registry.auth_file, or --auth-file, must name a config.json with credentials for %s that it accepts)", ErrUnauthorized, err, reg)
	}
	if errors.Is(err, auth.ErrBasicCredentialNotFound) {
		return fmt.Errorf("%w: %s asks for credentials and none are configured for it: set node.registry.auth_file, or --auth-file, to a config.json with credentials for %s: %w", ErrUnauthorized, reg, reg, err)
	}
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) {
		return fmt.Errorf("%w: %s: certificate signed by unknown authority: set node.registry.ca_file (or --ca-file) to the registry's CA: %w", ErrUnreachable, reg, err)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		hint := ""
		if strings.Contains(err.Error(), "HTTP response to HTTPS client") {
			hint = fmt.Sprintf(" (%s speaks plain HTTP: list it in node.registry.plain_http, or pass --plain-http)", reg)
		}
		return fmt.Errorf("%w: %s: %w%s", ErrUnreachable, reg, err, hint)
	}
	return err
}

// statusError is an answer of the registry other than 200 to a request
// this package made itself, shaped as oras-go's so that classify treats
// both alike. body is the answer's, the distribution spec's {"errors": [...]}
// when the registry follows it.
func statusError(req *http.Request, code int, body []byte) error {
	var e struct{ Errors errcode.Errors }
	if json.Unmarshal(body, &e) != nil || len(e.Errors) == 0 {
		if msg := strings.TrimSpace(string(body)); msg != "" && utf8.ValidString(msg) && len(msg) < 200 {
			e.Errors = errcode.Errors{{Message: msg}}
		}
	}
	return &errcode.ErrorResponse{Method: req.Method, URL: req.URL, StatusCode: code, Errors: e.Errors}
}
