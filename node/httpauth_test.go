package node_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/node"
	"github.com/roadrunner-wasm/roadrunner/runtime"
)

// Tokens of the tests' token file: the first, and the one a rotation adds.
const (
	token1 = "Zm9yIHRoZSBmaXJzdCB0b2tlbiBvZiB0aGUgZmlsZQ=="
	token2 = "c2Vjb25kLXRva2VuLW9mLXRoZS1yb3RhdGlvbg"
)

// startTokenNode starts testConfig's node with node.http_auth.token_file
// holding tokens (the file's text).
func startTokenNode(t *testing.T, tokens string) *testNode {
	t.Helper()
	file := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(file, []byte(tokens), 0o600); err != nil {
		t.Fatal(err)
	}
	return startNode(t, strings.Replace(testConfig, "node:\n", "node:\n  http_auth: {token_file: "+file+"}\n", 1), nil)
}

// invokeWith POSTs body to function name with the Authorization header
// auth ("" = none).
func (n *testNode) invokeWith(t *testing.T, name, auth string, body []byte) *response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a bound against hangs
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.url+"/v1/functions/"+name, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return do(t, req)
}

func TestHTTPAuth(t *testing.T) {
	// Blank lines, spaces and CRLF around the tokens are no part of them.
	n := startTokenNode(t, "\n  "+token1+"  \r\n\n\t"+token2+"\n")
	refused := []struct {
		name, auth, reason string
	}{
		{"no token", "", "missing_token"},
		{"basic", "Basic " + token1, "missing_token"},
		{"wrong token", "Bearer " + strings.Repeat("x", len(token1)), "bad_token"},
		{"prefix of a token", "Bearer " + token1[:20], "bad_token"},
		{"token and more", "Bearer " + token1 + "x", "bad_token"},
		{"empty token", "Bearer ", "bad_token"},
		{"two tokens", "Bearer " + token1 + " " + token2, "bad_token"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			r := n.invokeWith(t, "echo", tc.auth, []byte("payload"))
			if r.status != http.StatusUnauthorized {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			challenge := `Bearer realm="rrnode"`
			if tc.reason == "bad_token" {
				challenge += `, error="invalid_token"`
			}
			if got := r.header.Get("WWW-Authenticate"); got != challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, challenge)
			}
			if e := r.errorBody(t); e.Code != runtime.CodeTransport || e.Label != "transport" || !strings.HasPrefix(e.Error, "unauthorized: ") {
				t.Errorf("error body = %+v", e)
			}
			if strings.Contains(string(r.body), token1) || strings.Contains(string(r.body), token2) {
				t.Errorf("the answer holds a token: %s", r.body)
			}
		})
	}
	accepted := map[string]string{
		"first token":   "Bearer " + token1,
		"rotated token": "Bearer " + token2,
		"scheme case":   "bearer " + token1, // RFC 9110: the scheme is case-insensitive
	}
	for name, auth := range accepted {
		t.Run(name, func(t *testing.T) {
			r := n.invokeWith(t, "echo", auth, []byte(name))
			if r.status != http.StatusOK || string(r.body) != name {
				t.Fatalf("status %d, body %q: want 200 and the function's reply", r.status, r.body)
			}
		})
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if r := n.get(t, path); r.status != http.StatusOK {
			t.Errorf("GET %s without a token: status %d, want 200", path, r.status)
		}
	}
	for series, want := range map[string]float64{
		`rr_auth_failures_total{path="http",reason="missing_token"}`: 2,
		`rr_auth_failures_total{path="http",reason="bad_token"}`:     5,
		// Only the accepted requests reached the function.
		`rr_invocations_total{function="echo",result="ok"}`:            float64(len(accepted)),
		`rr_transfers_total{mechanism="read",path="http",result="ok"}`: float64(len(accepted)),
	} {
		if got := n.metric(t, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	logs := n.logs.String()
	for _, reason := range []string{"missing_token", "bad_token"} {
		if !strings.Contains(logs, `"msg":"http request refused"`) || !strings.Contains(logs, `"reason":"`+reason+`"`) {
			t.Errorf("no refusal logged with reason %s; log:\n%s", reason, logs)
		}
	}
	if !strings.Contains(logs, `"remote":"127.0.0.1:`) {
		t.Errorf("the refusal log does not name the remote address; log:\n%s", logs)
	}
	if strings.Contains(logs, token1[:20]) {
		t.Errorf("the log holds a token; log:\n%s", logs)
	}
}

// TestHTTPAuthBeforeBody sends a request's head, no body, and gets its
// 401 at once: the token is checked before any of the body is read, and
// the answer closes the connection (without Connection: close, net/http
// would wait for the body, to read it away before it answered).
func TestHTTPAuthBeforeBody(t *testing.T) {
	n := startTokenNode(t, token1+"\n")
	conn, err := net.Dial("tcp", strings.TrimPrefix(n.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second)) // a bound against hangs
	if _, err := io.WriteString(conn, "POST /v1/functions/echo HTTP/1.1\r\nHost: test\r\nContent-Length: 1000\r\nAuthorization: Bearer nottherighttoken1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusUnauthorized || !resp.Close {
		t.Fatalf("status %d, close %v: want 401 and Connection: close", resp.StatusCode, resp.Close)
	}
	if got := n.metric(t, `rr_invocations_total{function="echo",result="ok"}`); got != 0 {
		t.Errorf("echo ran %v times", got)
	}
}

// TestHTTPAuthTokenFile checks the token files New refuses, and that the
// error names the field and never shows a token.
func TestHTTPAuthTokenFile(t *testing.T) {
	const secret = "secret"
	for _, tc := range []struct {
		name, text, msg string
	}{
		{"empty", "", "holds no token"},
		{"blank lines", "\n  \n\t\r\n", "holds no token"},
		{"short", token1 + "\n" + secret + "-123456789\n", "line 2: a token of 16 characters"}, // 16 is fine
		{"too short", token1 + "\n\n" + secret + "-12345678\n", "line 3: a token of 15 characters is too short: want at least 16"},
		{"inner space", secret + " 0123456789abcdef\n", "line 1: not a bearer token"},
		{"comment", "# " + secret + "\n" + token1 + "\n", "line 1: not a bearer token"},
		{"padding inside", secret + "==0123456789abcdef\n", "line 1: not a bearer token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, "node:\n  cache_dir: \"off\"\n  http_auth: {token_file: tokens}\nfunctions:\n  - {name: f, module: fn.wasm}\n")
			writeFiles(t, filepath.Dir(path), tc.text, "tokens")
			cfg, err := node.LoadConfig(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = node.New(context.Background(), cfg, nil)
			if tc.name == "short" {
				// 16 characters are enough: New goes on to load the
				// empty module, and fails there.
				if err == nil || !strings.HasPrefix(err.Error(), "function f: load ") {
					t.Fatalf("New = %v, want the tokens accepted", err)
				}
				return
			}
			var ce *node.ConfigError
			if !errors.As(err, &ce) || ce.Field != "node.http_auth.token_file" {
				t.Fatalf("New = %v, want a ConfigError of node.http_auth.token_file", err)
			}
			if !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), filepath.Join(filepath.Dir(path), "tokens")) {
				t.Errorf("New = %v, want it to name the file and say %q", err, tc.msg)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the error shows the token: %v", err)
			}
		})
	}
	t.Run("removed", func(t *testing.T) {
		path := writeConfig(t, "node:\n  cache_dir: \"off\"\n  http_auth: {token_file: tokens}\nfunctions:\n  - {name: f, module: fn.wasm}\n")
		writeFiles(t, filepath.Dir(path), token1, "tokens")
		cfg, err := node.LoadConfig(path)
		if err != nil {
			t.Fatal(err)
		}
		os.Remove(cfg.Node.HTTPAuth.TokenFile)
		_, err = node.New(context.Background(), cfg, nil)
		var ce *node.ConfigError
		if !errors.As(err, &ce) || ce.Field != "node.http_auth.token_file" || !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("New = %v, want a ConfigError of node.http_auth.token_file wrapping ErrNotExist", err)
		}
	})
}
