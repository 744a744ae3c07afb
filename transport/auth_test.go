package transport_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/transport"
	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

func newKey() [transport.KeySize]byte {
	var k [transport.KeySize]byte
	rand.Read(k[:])
	return k
}

func newAuth(t testing.TB, name string, timeout time.Duration, keys ...[transport.KeySize]byte) *transport.Auth {
	t.Helper()
	ks, err := transport.NewKeys(keys...)
	if err != nil {
		t.Fatal(err)
	}
	a, err := transport.NewAuth(ks, name, timeout)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestParseKeys(t *testing.T) {
	k1, k2, k3 := newKey(), newKey(), newKey()
	file := "# rotation: the first signs\n" +
		hex.EncodeToString(k1[:]) + "\n\n" +
		"  " + base64.StdEncoding.EncodeToString(k2[:]) + "  \n" +
		base64.RawURLEncoding.EncodeToString(k3[:]) + "\n"
	ks, err := transport.ParseKeys([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := transport.NewKeys(k1, k2, k3)
	if ks.Len() != 3 {
		t.Fatalf("%d keys, want 3", ks.Len())
	}
	for i := range 3 {
		if ks.ID(i) != want.ID(i) {
			t.Errorf("key %d: id %s, want %s", i, ks.ID(i), want.ID(i))
		}
	}
	if ks.ID(0) == ks.ID(1) || strings.Contains(hex.EncodeToString(k1[:]), ks.ID(0)) {
		t.Errorf("ids %s %s: want distinct, and no part of the key", ks.ID(0), ks.ID(1))
	}
	g := transport.GenerateKey()
	if gk, err := transport.ParseKeys([]byte(g + "\n")); err != nil || gk.Len() != 1 || g == transport.GenerateKey() {
		t.Errorf("GenerateKey %q: %v; want a fresh parseable key", g, err)
	}
	for _, bad := range []struct{ file, err string }{
		{"", "no keys"},
		{"# only a comment\n\n", "no keys"},
		{hex.EncodeToString(k1[:]) + "\n" + hex.EncodeToString(k1[:31]) + "\n", "line 2"},
		{strings.Repeat("zz", 32), "line 1"},
		{base64.StdEncoding.EncodeToString(k1[:16]), "line 1"},
	} {
		_, err := transport.ParseKeys([]byte(bad.file))
		if err == nil || !strings.Contains(err.Error(), bad.err) {
			t.Errorf("ParseKeys(%q): %v, want an error naming %q", bad.file, err, bad.err)
		}
		if err != nil && len(bad.file) > 20 && strings.Contains(err.Error(), bad.file[:20]) {
			t.Errorf("ParseKeys error %q shows the key file's content", err)
		}
	}
}

// TestAuthPaths: two ends with the same keys carry payloads on every path
// and mechanism, verified byte for byte.
func TestAuthPaths(t *testing.T) {
	key := newKey()
	for _, m := range mechanisms {
		t.Run(m.String(), func(t *testing.T) {
			t.Parallel()
			sk := &sink{}
			so := m.server()
			so.Auth = newAuth(t, "listener", 0, key)
			s := startServer(t, m.path, sk, so)
			p := newPeer(t, s.addr, m.dial(transport.DialOptions{Auth: newAuth(t, "dialer", 0, key), Verify: true}))
			for _, size := range []int{0, 1, 64<<10 + 1, 4 << 20} {
				want := pattern(size, uint64(size))
				if _, err := p.Send(context.Background(), "fn", want, nil); err != nil {
					t.Fatalf("%d bytes: %v", size, err)
				}
				sk.mu.Lock()
				got := sk.last
				sk.mu.Unlock()
				if !bytes.Equal(got, want) {
					t.Fatalf("%d bytes: payload differs", size)
				}
			}
			if n := s.refusals(transport.RefusedAuth); n != 0 {
				t.Errorf("%d authentication refusals, want 0", n)
			}
		})
	}
}

// rawDialer speaks the dialer's side of the exchange by hand.
type rawDialer struct {
	t     *testing.T
	c     net.Conn
	key   [transport.KeySize]byte
	name  string
	nonce [32]byte
	sent  bytes.Buffer // every byte written, for a replay
}

func dialRaw(t *testing.T, s *server, key [transport.KeySize]byte) *rawDialer {
	t.Helper()
	network, addr, _ := strings.Cut(s.addr, "://")
	c, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawDialer{t: t, c: c, key: key, name: "raw", nonce: [32]byte(pattern(32, 9))}
}

func (d *rawDialer) write(b []byte) {
	d.t.Helper()
	d.sent.Write(b)
	if _, err := d.c.Write(b); err != nil {
		d.t.Fatal(err)
	}
}

func helloFrame(payload []byte) []byte {
	h := wire.Header{Kind: wire.KindHello, PayloadLen: uint64(len(payload))}
	return append(wire.AppendHeader(nil, &h), payload...)
}

// readHello reads a HELLO; ok is false if the connection closed instead.
func (d *rawDialer) readHello() (wire.Hello, bool) {
	d.t.Helper()
	var buf [wire.HeaderSize]byte
	h, err := wire.ReadHeader(d.c, &buf, wire.Limits{})
	if err != nil {
		return wire.Hello{}, false
	}
	p := make([]byte, h.PayloadLen)
	if h.Kind != wire.KindHello || wire.ReadPayload(d.c, h, p) != nil {
		d.t.Fatalf("answer %+v: want a HELLO", h)
	}
	hl, err := wire.ParseHello(p)
	if err != nil {
		d.t.Fatal(err)
	}
	return hl, true
}

// first sends the first HELLO, padded with an unknown option to pad
// payload bytes if pad is not 0, and returns the listener's answer.
func (d *rawDialer) first(pad int) wire.Hello {
	d.t.Helper()
	m1 := wire.Hello{Version: wire.AuthVersion, Nonce: d.nonce, HasNonce: true, Name: d.name}
	p := m1.Append(nil)
	if pad > 0 {
		for len(p) < pad {
			n := min(pad-len(p)-2, 255)
			p = append(p, 200, byte(n))
			p = append(p, make([]byte, n)...)
		}
	}
	d.write(helloFrame(p))
	m2, ok := d.readHello()
	if !ok {
		d.t.Fatal("the listener closed the connection after the first HELLO")
	}
	return m2
}

// prove sends the dialer's proof, made with key, and reports whether the
// listener answered it.
func (d *rawDialer) prove(m2 wire.Hello, key [transport.KeySize]byte) bool {
	d.t.Helper()
	m3 := wire.Hello{MAC: transport.HelloMAC(key, 'D', d.nonce, m2.Nonce, d.name, m2.Name), HasMAC: true}
	d.write(helloFrame(m3.Append(nil)))
	_, ok := d.readHello()
	return ok
}

// closed reports whether the listener closes the connection (after
// whatever it still sends) within 5 s.
func (d *rawDialer) closed() bool {
	d.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := io.Copy(io.Discard, d.c)
	return !errors.Is(err, os.ErrDeadlineExceeded)
}

// TestAuthRefusals: each connection that fails to authenticate is closed
// and reported with its reason, and nothing of it reaches the sink; the
// listener's proof checks out, and it says nothing about its host before
// the dialer's proof.
func TestAuthRefusals(t *testing.T) {
	key := newKey()
	sk := &sink{}
	// The default bound (5 s) for the exchanges that must succeed, however
	// loaded the machine; the slowloris case has a server of its own.
	s := startServer(t, transport.PathTCP, sk, &transport.ServerOptions{Auth: newAuth(t, "listener", 0, key)})
	refused := func(reason string, before int64) {
		t.Helper()
		waitFor(t, func() bool { return s.refusals("auth/"+reason) == before+1 }, "refusal auth/%s counted: %d", reason, s.refusals("auth/"+reason))
	}

	t.Run("good", func(t *testing.T) {
		d := dialRaw(t, s, key)
		m2 := d.first(0)
		if m2.HasHost || m2.MapID != 0 || m2.Version != wire.AuthVersion || m2.Name != "listener" {
			t.Fatalf("listener's first HELLO %+v: want version, nonce, name and proof, nothing about its host", m2)
		}
		if m2.MAC != transport.HelloMAC(key, 'L', d.nonce, m2.Nonce, "raw", "listener") {
			t.Fatal("the listener's proof does not verify")
		}
		if !d.prove(m2, key) {
			t.Fatal("the listener refused a good proof")
		}
		d.write(dataFrame("fn", []byte("after hello"), nil))
		var buf [wire.HeaderSize]byte
		if h, err := wire.ReadHeader(d.c, &buf, wire.Limits{}); err != nil || h.Kind != wire.KindAck || h.Status != 0 {
			t.Fatalf("DATA after the exchange: %+v, %v; want ACK 0", h, err)
		}
	})
	fills := sk.fills.Load()

	for _, c := range []struct {
		name, reason string
		run          func(d *rawDialer)
	}{
		{"data without hello", transport.AuthNoHello, func(d *rawDialer) { d.write(dataFrame("fn", []byte("x"), nil)) }},
		{"closed at once", transport.AuthNoHello, func(d *rawDialer) { d.c.(*net.TCPConn).CloseWrite() }},
		{"hello without authentication", transport.AuthNoHello, func(d *rawDialer) {
			d.write(helloFrame((&wire.Hello{HasHost: true}).Append(nil)))
		}},
		{"unknown version", transport.AuthUnknownVersion, func(d *rawDialer) {
			d.write(helloFrame((&wire.Hello{Version: 2, HasNonce: true, Name: "raw"}).Append(nil)))
		}},
		{"no nonce", transport.AuthMalformed, func(d *rawDialer) {
			d.write(helloFrame((&wire.Hello{Version: 1, Name: "raw"}).Append(nil)))
		}},
		{"truncated", transport.AuthMalformed, func(d *rawDialer) {
			b := helloFrame((&wire.Hello{Version: 1, HasNonce: true, Name: "raw"}).Append(nil))
			d.write(b[:len(b)-10])
			d.c.(*net.TCPConn).CloseWrite()
		}},
		{"garbage", transport.AuthMalformed, func(d *rawDialer) { d.write([]byte("GET / HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n")) }},
		{"larger than the maximum", transport.AuthMalformed, func(d *rawDialer) {
			d.write(helloFrame(make([]byte, wire.MaxHelloPayload+1)))
		}},
		{"wrong key", transport.AuthBadMAC, func(d *rawDialer) {
			if d.prove(d.first(0), newKey()) {
				t.Error("the listener answered a proof made with another key")
			}
		}},
		{"no proof", transport.AuthMalformed, func(d *rawDialer) {
			d.first(0)
			d.write(dataFrame("fn", []byte("x"), nil))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := s.refusals("auth/" + c.reason)
			d := dialRaw(t, s, key)
			c.run(d)
			refused(c.reason, before)
			if !d.closed() {
				t.Error("the connection is still open")
			}
		})
	}

	t.Run("slowloris", func(t *testing.T) {
		// A HELLO that never finishes: bytes keep coming, slower than the
		// exchange's bound of 300 ms here, and never a whole header.
		slow := &sink{}
		ss := startServer(t, transport.PathTCP, slow, &transport.ServerOptions{Auth: newAuth(t, "listener", 300*time.Millisecond, key)})
		d := dialRaw(t, ss, key)
		b := helloFrame((&wire.Hello{Version: 1, HasNonce: true, Name: "raw"}).Append(nil))
		for _, x := range b[:20] {
			if _, err := d.c.Write([]byte{x}); err != nil {
				break // the listener closed the connection
			}
			time.Sleep(20 * time.Millisecond)
		}
		waitFor(t, func() bool { return ss.refusals("auth/"+transport.AuthTimeout) == 1 }, "refusal auth/timeout counted: %d", ss.refusals("auth/"+transport.AuthTimeout))
		if !d.closed() {
			t.Error("the connection is still open")
		}
		if n := slow.fills.Load(); n != 0 {
			t.Errorf("%d payloads reached the sink", n)
		}
	})

	t.Run("maximum size", func(t *testing.T) {
		d := dialRaw(t, s, key)
		if !d.prove(d.first(wire.MaxHelloPayload), key) {
			t.Fatal("a HELLO of the maximum size with a good proof was refused")
		}
	})

	t.Run("replay", func(t *testing.T) {
		// Capture a real Peer's bytes through a relay, then replay them.
		var rec bytes.Buffer
		relay := relayTo(t, s.addr[len("tcp://"):], &rec)
		p := newPeer(t, "tcp://"+relay, &transport.DialOptions{Auth: newAuth(t, "dialer", 0, key)})
		if _, err := p.Send(context.Background(), "fn", []byte("recorded"), nil); err != nil {
			t.Fatal(err)
		}
		p.Close()
		fills = sk.fills.Load()
		before := s.refusals("auth/" + transport.AuthBadMAC)
		d := dialRaw(t, s, key)
		d.write(rec.Bytes())
		refused(transport.AuthBadMAC, before)
		if !d.closed() {
			t.Error("the replayed connection is still open")
		}
	})
	if got := sk.fills.Load(); got != fills {
		t.Errorf("the sink filled %d payloads of refused connections", got-fills)
	}
}

// relayTo relays connections to addr, recording what the dialer sent.
func relayTo(t *testing.T, addr string, rec *bytes.Buffer) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		u, err := net.Dial("tcp", addr)
		if err != nil {
			return
		}
		defer u.Close()
		go io.Copy(c, u)
		io.Copy(u, io.TeeReader(c, rec))
	}()
	return ln.Addr().String()
}

// TestAuthMismatch: ends that share no key, or of which one has none, do
// not connect, and both say why.
func TestAuthMismatch(t *testing.T) {
	a, b := newKey(), newKey()
	for _, c := range []struct {
		name           string
		dial, listen   *transport.Auth
		dialer, server string // the reasons each end reports ("" for none)
	}{
		{"other key", newAuth(t, "d", 0, a), newAuth(t, "l", 0, b), transport.AuthBadMAC, transport.AuthBadMAC},
		{"listener without keys", newAuth(t, "d", 0, a), nil, transport.AuthNoHello, ""},
		{"dialer without keys", nil, newAuth(t, "l", 0, a), "", transport.AuthNoHello},
	} {
		t.Run(c.name, func(t *testing.T) {
			sk := &sink{}
			s := startServer(t, transport.PathTCP, sk, &transport.ServerOptions{Auth: c.listen})
			p := newPeer(t, s.addr, &transport.DialOptions{Auth: c.dial})
			_, err := p.Send(context.Background(), "fn", []byte("x"), nil)
			if err == nil {
				t.Fatal("sent")
			}
			var ae *transport.AuthError
			if c.dialer != "" && (!errors.As(err, &ae) || ae.Reason != c.dialer) {
				t.Errorf("dialer: %v, want an AuthError %s", err, c.dialer)
			}
			if c.server != "" {
				waitFor(t, func() bool { return s.refusals("auth/"+c.server) == 1 }, "listener refusal %s", c.server)
			}
			if n := sk.fills.Load(); n != 0 {
				t.Errorf("%d payloads reached the sink", n)
			}
		})
	}
}

// TestAuthRotation follows the documented rotation on two ends, each
// dialing the other, restarting one end at a time: every transfer at
// every step goes through.
func TestAuthRotation(t *testing.T) {
	old, nu := newKey(), newKey()
	steps := [][][transport.KeySize]byte{
		{old},     // before
		{old, nu}, // 1: the new key added second
		{nu, old}, // 2: moved first
		{nu},      // 3: the old key dropped
	}
	// Node x moves to step i first, then node y: in between, x is one
	// step ahead.
	keys := [2]int{0, 0}
	send := func(stage string) {
		t.Helper()
		for from := range 2 {
			to := 1 - from
			sk := &sink{}
			s := startServer(t, transport.PathTCP, sk, &transport.ServerOptions{Auth: newAuth(t, "n", 0, steps[keys[to]]...)})
			p := newPeer(t, s.addr, &transport.DialOptions{Auth: newAuth(t, "n", 0, steps[keys[from]]...)})
			if _, err := p.Send(context.Background(), "fn", []byte(stage), nil); err != nil {
				t.Fatalf("%s: node %d (step %d) to node %d (step %d): %v", stage, from, keys[from], to, keys[to], err)
			}
		}
	}
	send("start")
	for step := 1; step < len(steps); step++ {
		for node := range 2 {
			keys[node] = step
			send("step " + string(rune('0'+step)))
		}
	}
	// Skipping a step breaks: one end signs with a key the other lacks.
	sk := &sink{}
	s := startServer(t, transport.PathTCP, sk, &transport.ServerOptions{Auth: newAuth(t, "n", 0, steps[3]...)})
	p := newPeer(t, s.addr, &transport.DialOptions{Auth: newAuth(t, "n", 0, steps[0]...)})
	if _, err := p.Send(context.Background(), "fn", []byte("x"), nil); err == nil {
		t.Error("a node with only the old key reached one with only the new")
	}
}
