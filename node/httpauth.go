package node

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"os"
	"regexp"
	"strings"

	"github.com/roadrunner-wasm/roadrunner/runtime"
)

// tokenRE is the syntax of a bearer token (RFC 6750's b64token): what a
// client can send after "Bearer " as it is.
var tokenRE = regexp.MustCompile(`^[A-Za-z0-9._~+/-]+=*$`)

// httpAuth is the bearer tokens the HTTP ingress accepts on
// POST /v1/functions/*, kept as SHA-256 digests: comparing digests of equal
// length takes the same time whatever the token's length and content.
// None = no token asked.
type httpAuth struct {
	digests [][sha256.Size]byte
}

// loadHTTPAuth reads node.http_auth.token_file, if set: one token a line,
// blank lines and the spaces around a token ignored, at least one token,
// each of at least MinTokenLen characters of bearer-token syntax. Every
// token is accepted, so that a new one can be added before the old one is
// dropped.
func (n *Node) loadHTTPAuth() error {
	file := n.cfg.Node.HTTPAuth.TokenFile
	if file == "" {
		return nil
	}
	bad := func(format string, args ...any) error {
		return n.cfg.bad("node.http_auth.token_file", format, args...)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return bad("%w", err)
	}
	var a httpAuth
	for i, line := range bytes.Split(data, []byte("\n")) {
		tok := bytes.TrimSpace(line)
		switch {
		case len(tok) == 0:
			continue
		case !tokenRE.Match(tok):
			// The token itself stays out of the message, which goes to logs.
			return bad("%s line %d: not a bearer token: want letters, digits and - . _ ~ + /, then = padding", file, i+1)
		case len(tok) < MinTokenLen:
			return bad("%s line %d: a token of %d characters is too short: want at least %d (`rrnode keygen` makes one)", file, i+1, len(tok), MinTokenLen)
		}
		a.digests = append(a.digests, sha256.Sum256(tok))
	}
	if len(a.digests) == 0 {
		return bad("%s holds no token: want one a line", file)
	}
	n.httpAuth = a
	return nil
}

// Reasons of a refused HTTP request, in rr_auth_failures_total.
const (
	reasonMissingToken = "missing_token"
	reasonBadToken     = "bad_token"
)

// check returns why r may not invoke a function, or "" if it may. Every
// token is compared, in constant time, whether or not one matched already.
func (a *httpAuth) check(r *http.Request) string {
	if len(a.digests) == 0 {
		return ""
	}
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return reasonMissingToken // none, or another scheme: no bearer token given
	}
	given := sha256.Sum256([]byte(strings.TrimLeft(tok, " ")))
	match := 0
	for i := range a.digests {
		match |= subtle.ConstantTimeCompare(a.digests[i][:], given[:])
	}
	if match == 0 {
		return reasonBadToken
	}
	return ""
}

// unauthorized is the error body's message of a refused request, by reason.
var unauthorized = map[string]string{
	reasonMissingToken: "unauthorized: no bearer token; send Authorization: Bearer TOKEN, a token of the node's node.http_auth.token_file",
	reasonBadToken:     "unauthorized: the bearer token is not one of the node's node.http_auth.token_file",
}

// authorize checks r's bearer token before anything of r's body is read,
// and answers a refused request: 401 with WWW-Authenticate (RFC 6750), a
// JSON error, a count in rr_auth_failures_total and a rate-limited log
// line. It reports whether r may go on.
func (n *Node) authorize(w http.ResponseWriter, r *http.Request) bool {
	reason := n.httpAuth.check(r)
	if reason == "" {
		return true
	}
	n.metrics.authFailure("http", reason)
	n.refusalLog.warn("http "+reason, "http request refused", "path", "http", "reason", reason, "remote", r.RemoteAddr, "url", r.URL.Path)
	challenge := `Bearer realm="rrnode"`
	if reason == reasonBadToken {
		challenge += `, error="invalid_token"`
	}
	h := w.Header()
	h.Set("WWW-Authenticate", challenge)
	// The connection closes after the answer: net/http does not wait for
	// the body to read it away before it answers, and a client that sends
	// no token does not keep its connection. (After the answer, net/http
	// still discards up to 256 KiB of what the client sent, bounded and
	// never seen by a guest.)
	h.Set("Connection", "close")
	writeError(w, http.StatusUnauthorized, runtime.CodeTransport, unauthorized[reason], nil)
	return false
}
