package transport

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

// KeySize is the size of a HELLO key: 32 random bytes.
const KeySize = 32

// DefaultAuthTimeout bounds a HELLO exchange unless [NewAuth] is given
// another timeout.
const DefaultAuthTimeout = 5 * time.Second

// Keys is a ring of pre-shared HELLO keys: the first proves this end to
// its peers, every one verifies a peer's proof. Rotating a key without
// downtime takes three rollouts: add the new key second everywhere, then
// move it first everywhere, then drop the old one. A Keys is immutable.
type Keys struct {
	keys [][KeySize]byte
}

// ParseKeys reads a key file: one key per line, 32 bytes written as 64
// hexadecimal digits or in base64 (standard or URL alphabet, padded or
// not). Blank lines and lines beginning with # are skipped. It fails on a
// file without keys and names the line of a bad one (never its content).
func ParseKeys(data []byte) (*Keys, error) {
	k := &Keys{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		key, err := parseKey(s)
		if err != nil {
			return nil, fmt.Errorf("key on line %d: %w", line, err)
		}
		k.keys = append(k.keys, key)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(k.keys) == 0 {
		return nil, errors.New("no keys: want one per line, 32 bytes in hex or base64 (rrnode keygen prints one)")
	}
	return k, nil
}

func parseKey(s string) ([KeySize]byte, error) {
	var key [KeySize]byte
	var b []byte
	var err error
	switch {
	case len(s) == 2*KeySize:
		b, err = hex.DecodeString(s)
	case strings.ContainsAny(s, "-_"):
		b, err = base64.URLEncoding.WithPadding(base64.NoPadding).DecodeString(strings.TrimRight(s, "="))
	default:
		b, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
	}
	if err != nil || len(b) != KeySize {
		return key, fmt.Errorf("want %d bytes as %d hex digits or in base64", KeySize, 2*KeySize)
	}
	copy(key[:], b)
	return key, nil
}

// LoadKeys reads the key file file with ParseKeys.
func LoadKeys(file string) (*Keys, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	k, err := ParseKeys(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return k, nil
}

// NewKeys returns a ring of the given keys, the first signing.
func NewKeys(keys ...[KeySize]byte) (*Keys, error) {
	if len(keys) == 0 {
		return nil, errors.New("no keys")
	}
	return &Keys{keys: append([][KeySize]byte(nil), keys...)}, nil
}

// GenerateKey returns a fresh random key, as the 64 hexadecimal digits a
// key file holds.
func GenerateKey() string {
	var k [KeySize]byte
	rand.Read(k[:])
	return hex.EncodeToString(k[:])
}

// Len is the number of keys.
func (k *Keys) Len() int { return len(k.keys) }

// ID is a short name of key i, for logs: 8 hex digits of a hash of the
// key that tell keys apart and reveal nothing of them.
func (k *Keys) ID(i int) string {
	sum := sha256.Sum256(append([]byte("roadrunner key id\x00"), k.keys[i][:]...))
	return hex.EncodeToString(sum[:4])
}

// Auth is a node's side of the HELLO authentication: its keys, the name
// it gives, and how long an exchange may take. Make it with [NewAuth] and
// give it to the Peers and Servers of the process (DialOptions.Auth,
// ServerOptions.Auth).
type Auth struct {
	keys    *Keys
	name    string
	timeout time.Duration
}

// NewAuth returns the authentication of a node named name (1 to 64 of
// A-Z a-z 0-9 . _ -) with keys. timeout bounds each HELLO exchange; zero
// means DefaultAuthTimeout.
func NewAuth(keys *Keys, name string, timeout time.Duration) (*Auth, error) {
	if keys == nil || len(keys.keys) == 0 {
		return nil, errors.New("auth: no keys")
	}
	if len(name) == 0 || len(name) > wire.MaxNameLen || !wire.ValidName([]byte(name)) {
		return nil, fmt.Errorf("auth: node name %q: want 1 to %d of A-Z a-z 0-9 . _ -", name, wire.MaxNameLen)
	}
	if timeout < 0 {
		return nil, fmt.Errorf("auth: timeout %v is negative", timeout)
	}
	if timeout == 0 {
		timeout = DefaultAuthTimeout
	}
	return &Auth{keys: keys, name: name, timeout: timeout}, nil
}

// Roles in the MAC: each side's proof covers its own role, so that one
// side's proof can never stand for the other's.
const (
	roleDialer   = 'D'
	roleListener = 'L'
)

// macLabel begins every MAC's input: a MAC of this protocol cannot be
// taken for one of any other use of the key.
const macLabel = "roadrunner hello\x00"

// helloMAC is the proof of the side role with key, over both nonces and
// both names (PROTOCOL.md "Authentication").
func helloMAC(key *[KeySize]byte, role byte, dialerNonce, listenerNonce *[wire.NonceSize]byte, dialerName, listenerName string) [wire.MACSize]byte {
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte(macLabel))
	m.Write([]byte{wire.AuthVersion, role})
	m.Write(dialerNonce[:])
	m.Write(listenerNonce[:])
	m.Write([]byte{byte(len(dialerName))})
	m.Write([]byte(dialerName))
	m.Write([]byte{byte(len(listenerName))})
	m.Write([]byte(listenerName))
	var mac [wire.MACSize]byte
	m.Sum(mac[:0])
	return mac
}

// sign is this end's proof, with its first key.
func (a *Auth) sign(role byte, dn, ln *[wire.NonceSize]byte, dname, lname string) [wire.MACSize]byte {
	return helloMAC(&a.keys.keys[0], role, dn, ln, dname, lname)
}

// verify reports whether mac is the proof of role under one of the keys.
// Every key is tried, whichever matches, and each comparison takes the
// same time wherever the MACs differ.
func (a *Auth) verify(mac *[wire.MACSize]byte, role byte, dn, ln *[wire.NonceSize]byte, dname, lname string) bool {
	ok := false
	for i := range a.keys.keys {
		want := helloMAC(&a.keys.keys[i], role, dn, ln, dname, lname)
		ok = hmac.Equal(want[:], mac[:]) || ok
	}
	return ok
}

// AuthError is a HELLO authentication that failed on the dialer's side:
// the peer did not prove the key (Reason is one of the Auth* reasons), or
// it closed the connection after this end's proof (Reason is "", Err says
// so: the peer holds none of this end's keys, or refuses it otherwise).
type AuthError struct {
	Reason string
	Err    error
}

func (e *AuthError) Error() string {
	if e.Reason == "" {
		return "authentication: " + e.Err.Error()
	}
	return "authentication: " + e.Reason + ": " + e.Err.Error()
}

func (e *AuthError) Unwrap() error { return e.Err }

// helloDeadline is when a HELLO exchange (or a TLS handshake) begun now
// must be done: after timeout, or at ctx's deadline if that comes first.
func helloDeadline(ctx context.Context, timeout time.Duration) time.Time {
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	return deadline
}

// nonce returns a fresh random nonce.
func nonce() [wire.NonceSize]byte {
	var n [wire.NonceSize]byte
	rand.Read(n[:]) // never fails (crypto/rand, Go 1.24)
	return n
}

// writeHello writes one HELLO frame carrying h.
func writeHello(w io.Writer, h *wire.Hello) error {
	var buf [wire.HeaderSize + wire.MaxHelloPayload]byte
	payload := h.Append(buf[wire.HeaderSize:wire.HeaderSize])
	hd := wire.Header{Kind: wire.KindHello, PayloadLen: uint64(len(payload))}
	hd.Put(buf[:])
	_, err := w.Write(buf[:wire.HeaderSize+len(payload)])
	return err
}

// helloError is a HELLO read that failed, with its Auth* reason.
type helloError struct {
	reason string
	err    error
}

func (e *helloError) Error() string { return e.err.Error() }
func (e *helloError) Unwrap() error { return e.err }

// readHello reads one HELLO frame from r with exact reads: nothing past
// the frame leaves the socket. The error is a *helloError: AuthNoHello
// for a connection closed before a byte or a valid frame of another kind,
// AuthTimeout for a deadline, AuthMalformed for anything else that is
// wrong (a header or payload that is not valid, or cut short).
func readHello(r io.Reader) (wire.Hello, error) {
	var hdr [wire.HeaderSize]byte
	h, err := wire.ReadHeader(r, &hdr, wire.Limits{})
	if err != nil {
		return wire.Hello{}, helloReadError(err)
	}
	if h.Kind != wire.KindHello {
		return wire.Hello{}, &helloError{AuthNoHello, fmt.Errorf("a %s frame where a HELLO belongs", h.Kind)}
	}
	return readHelloPayload(r, h)
}

// readHelloPayload reads and decodes the payload of the HELLO whose header
// h was read from r; its errors are readHello's.
func readHelloPayload(r io.Reader, h wire.Header) (wire.Hello, error) {
	var buf [wire.MaxHelloPayload]byte
	p := buf[:h.PayloadLen]
	if err := wire.ReadPayload(r, h, p); err != nil {
		return wire.Hello{}, helloReadError(err)
	}
	hl, err := wire.ParseHello(p)
	if err != nil {
		return wire.Hello{}, &helloError{AuthMalformed, err}
	}
	return hl, nil
}

func helloReadError(err error) error {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return &helloError{AuthTimeout, err}
	case err == io.EOF:
		return &helloError{AuthNoHello, errors.New("connection closed before a HELLO")}
	}
	return &helloError{AuthMalformed, err}
}

// authReason is the Auth* reason of an error of the exchange.
func authReason(err error) string {
	var he *helloError
	if errors.As(err, &he) {
		return he.reason
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return AuthTimeout
	}
	return AuthMalformed
}

// checkFirst checks the first HELLO of an exchange (the dialer's, or the
// listener's answer): the version, a nonce and a name.
func checkFirst(h *wire.Hello) error {
	switch {
	case h.Version == 0:
		return &helloError{AuthNoHello, errors.New("a HELLO without authentication (is node.auth.keys set on both nodes?)")}
	case h.Version != wire.AuthVersion:
		return &helloError{AuthUnknownVersion, fmt.Errorf("authentication version %d, want %d", h.Version, wire.AuthVersion)}
	case !h.HasNonce || h.Name == "":
		return &helloError{AuthMalformed, errors.New("an authenticating HELLO without a nonce or a name")}
	}
	return nil
}

// authenticate is the dialer's side of the authenticated HELLO exchange
// (PROTOCOL.md "Authentication"): it sends its nonce and name, checks the
// listener's proof, sends its own proof with what it says about itself
// after (mine: host and sockmap), and returns the listener's last HELLO,
// what the listener says about itself once it has checked that proof.
func (a *Auth) authenticate(rw io.ReadWriter, mine wire.Hello) (wire.Hello, error) {
	dn := nonce()
	m1 := wire.Hello{Version: wire.AuthVersion, Nonce: dn, HasNonce: true, Name: a.name}
	if err := writeHello(rw, &m1); err != nil {
		return wire.Hello{}, err
	}
	m2, err := readHello(rw)
	if err == nil {
		err = checkFirst(&m2)
	}
	if err == nil && !m2.HasMAC {
		err = &helloError{AuthMalformed, errors.New("the listener's HELLO has no proof")}
	}
	if err != nil {
		return wire.Hello{}, &AuthError{Reason: authReason(err), Err: err}
	}
	if !a.verify(&m2.MAC, roleListener, &dn, &m2.Nonce, a.name, m2.Name) {
		// Say so, for the listener to count, and close.
		writeHello(rw, &wire.Hello{Refuse: true})
		return wire.Hello{}, &AuthError{Reason: AuthBadMAC, Err: fmt.Errorf("node %q did not prove a key of this node's", m2.Name)}
	}
	mine.MAC, mine.HasMAC = a.sign(roleDialer, &dn, &m2.Nonce, a.name, m2.Name), true
	if err := writeHello(rw, &mine); err != nil {
		return wire.Hello{}, err
	}
	m4, err := readHello(rw)
	if err != nil {
		var he *helloError
		if errors.As(err, &he) && he.reason == AuthNoHello {
			return wire.Hello{}, &AuthError{Err: fmt.Errorf("node %q closed the connection after this node's proof: it holds none of this node's keys (see its rr_auth_failures_total)", m2.Name)}
		}
		return wire.Hello{}, &AuthError{Reason: authReason(err), Err: err}
	}
	return m4, nil
}

// accept is the listener's side: it reads the dialer's nonce and name,
// answers with its own and its proof, checks the dialer's proof and, only
// then, answers with what it says about itself, answer(the dialer's last
// HELLO). Every error is a *helloError with its Auth* reason.
func (a *Auth) accept(rw io.ReadWriter, answer func(theirs *wire.Hello) wire.Hello) (wire.Hello, error) {
	m1, err := readHello(rw)
	if err == nil {
		err = checkFirst(&m1)
	}
	if err != nil {
		return wire.Hello{}, err
	}
	ln := nonce()
	m2 := wire.Hello{Version: wire.AuthVersion, Nonce: ln, HasNonce: true, Name: a.name}
	m2.MAC, m2.HasMAC = a.sign(roleListener, &m1.Nonce, &ln, m1.Name, a.name), true
	if err := writeHello(rw, &m2); err != nil {
		return wire.Hello{}, helloReadError(err)
	}
	m3, err := readHello(rw)
	if err != nil {
		if he := (*helloError)(nil); errors.As(err, &he) && he.reason == AuthNoHello {
			// The dialer went away, or sent a frame, without its proof.
			he.reason = AuthMalformed
		}
		return wire.Hello{}, err
	}
	if m3.Refuse {
		return wire.Hello{}, &helloError{AuthBadMAC, fmt.Errorf("node %q found this node's proof bad: the nodes hold no key in common", m1.Name)}
	}
	if !m3.HasMAC {
		return wire.Hello{}, &helloError{AuthMalformed, errors.New("the dialer's second HELLO has no proof")}
	}
	if !a.verify(&m3.MAC, roleDialer, &m1.Nonce, &ln, m1.Name, a.name) {
		return wire.Hello{}, &helloError{AuthBadMAC, fmt.Errorf("node %q did not prove a key of this node's", m1.Name)}
	}
	m3.Name = m1.Name
	m4 := answer(&m3)
	if err := writeHello(rw, &m4); err != nil {
		return wire.Hello{}, helloReadError(err)
	}
	return m3, nil
}
