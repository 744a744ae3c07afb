package transport_test

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/internal/privileged"
	"github.com/roadrunner-wasm/roadrunner/internal/testcerts"
	"github.com/roadrunner-wasm/roadrunner/transport"
)

func loadTLS(t testing.TB, ca *testcerts.CA, name string) *transport.TLS {
	t.Helper()
	l := ca.Issue(t, name)
	tl, err := transport.LoadTLS(l.Cert, l.Key, ca.File)
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

// TestTLS: two ends with certificates of one CA carry payloads of every
// size over TLS, with and without the HELLO keys on top; the accelerators
// asked for are reported as fallbacks with the reason tls, on both sides.
func TestTLS(t *testing.T) {
	ca := testcerts.NewCA(t, t.TempDir(), "cluster")
	key := newKey()
	for _, auth := range []bool{false, true} {
		t.Run(map[bool]string{false: "tls", true: "tls+auth"}[auth], func(t *testing.T) {
			var sfb, dfb fallbacks
			sk := &sink{}
			so := &transport.ServerOptions{TLS: loadTLS(t, ca, "listener"), IOURing: true, OnFallback: sfb.on}
			do := &transport.DialOptions{TLS: loadTLS(t, ca, "dialer"), Mechanism: transport.MechanismSplice, IOURing: true, OnFallback: dfb.on, Verify: true}
			if auth {
				so.Auth, do.Auth = newAuth(t, "l", 0, key), newAuth(t, "d", 0, key)
			}
			s := startServer(t, transport.PathTCP, sk, so)
			p := newPeer(t, s.addr, do)
			sizes := []int{0, 1, 4095, 1 << 20, 64 << 20}
			for _, size := range sizes {
				want := pattern(size, uint64(size)+3)
				sent, err := p.Send(context.Background(), "fn", want, nil)
				if err != nil {
					t.Fatalf("%d bytes: %v", size, err)
				}
				if sent.Mechanism != transport.MechanismWrite {
					t.Errorf("%d bytes carried by %v, want write", size, sent.Mechanism)
				}
				sk.mu.Lock()
				got := sk.last
				sk.mu.Unlock()
				if !bytes.Equal(got, want) {
					t.Fatalf("%d bytes: payload differs", size)
				}
			}
			n := int64(len(sizes))
			for _, want := range []string{"splice/write/tls", "iouring/plain/tls"} {
				if got := dfb.get(want); got != n {
					t.Errorf("dialer fallbacks %s: %d, want %d (%s)", want, got, n, dfb.String())
				}
			}
			// The server reports the ring for the payloads it would have
			// read through it (RingMin and up).
			if got := sfb.get("iouring/plain/tls"); got == 0 {
				t.Errorf("server fallbacks: %s; want iouring/plain/tls", sfb.String())
			}
		})
	}
}

// TestTLSRefused: a dialer with a certificate of another CA, and one
// without TLS, are refused and reported; nothing reaches the sink.
func TestTLSRefused(t *testing.T) {
	dir := t.TempDir()
	ca, other := testcerts.NewCA(t, dir, "cluster"), testcerts.NewCA(t, dir, "other")
	sk := &sink{}
	s := startServer(t, transport.PathTCP, sk, &transport.ServerOptions{TLS: loadTLS(t, ca, "listener")})

	// The dialer checks the listener first, against its own CA: refused.
	p := newPeer(t, s.addr, &transport.DialOptions{TLS: loadTLS(t, other, "stranger")})
	_, err := p.Send(context.Background(), "fn", []byte("x"), nil)
	var ae *transport.AuthError
	if !errors.As(err, &ae) || ae.Reason != transport.AuthTLS {
		t.Errorf("a dialer of another CA: %v, want an AuthError tls", err)
	}
	waitFor(t, func() bool { return s.refusals("auth/tls") == 1 }, "listener refusals: %d", s.refusals("auth/tls"))

	// A dialer that trusts the listener but holds a certificate of
	// another CA: the listener refuses it in the handshake.
	l := other.Issue(t, "impostor")
	impostor, err := transport.LoadTLS(l.Cert, l.Key, ca.File)
	if err != nil {
		t.Fatal(err)
	}
	p = newPeer(t, s.addr, &transport.DialOptions{TLS: impostor})
	if _, err := p.Send(context.Background(), "fn", []byte("x"), nil); err == nil {
		t.Error("a dialer with a certificate of another CA sent a payload")
	}
	waitFor(t, func() bool { return s.refusals("auth/tls") == 2 }, "listener refusals: %d", s.refusals("auth/tls"))

	// Plain frames to a TLS listener.
	p = newPeer(t, s.addr, nil)
	if _, err := p.Send(context.Background(), "fn", []byte("x"), nil); err == nil {
		t.Error("a dialer without TLS sent a payload")
	}
	waitFor(t, func() bool { return s.refusals("auth/tls") == 3 }, "listener refusals: %d", s.refusals("auth/tls"))
	if n := sk.fills.Load(); n != 0 {
		t.Errorf("%d payloads reached the sink", n)
	}
}

// TestTLSOpenSSL: openssl s_client sees TLS 1.3 and is refused without a
// client certificate.
func TestTLSOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		privileged.Skip(t, "openssl not installed (apt-get install openssl; .ci/run does)")
	}
	ca := testcerts.NewCA(t, t.TempDir(), "cluster")
	sk := &sink{}
	s := startServer(t, transport.PathTCP, sk, &transport.ServerOptions{TLS: loadTLS(t, ca, "listener")})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", strings.TrimPrefix(s.addr, "tcp://"), "-CAfile", ca.File, "-verify_return_error")
	cmd.Stdin = strings.NewReader("RRF1 these bytes must never be read as a frame\n")
	out, _ := cmd.CombinedOutput()
	if !strings.Contains(string(out), "TLSv1.3") {
		t.Errorf("openssl s_client did not negotiate TLS 1.3:\n%s", out)
	}
	if !strings.Contains(string(out), "Verify return code: 0 (ok)") {
		t.Errorf("openssl did not verify the listener's certificate against the CA:\n%s", out)
	}
	waitFor(t, func() bool { return s.refusals("auth/tls") == 1 }, "listener refusals: %d\n%s", s.refusals("auth/tls"), out)
	if !strings.Contains(s.log.String(), "certificate") {
		t.Errorf("the refusal does not say a certificate is missing:\n%s", s.log)
	}
	if n := sk.fills.Load(); n != 0 {
		t.Errorf("%d payloads reached the sink", n)
	}
}
