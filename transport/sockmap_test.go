package transport_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/internal/netns"
	"github.com/roadrunner-wasm/roadrunner/internal/privileged"
	"github.com/roadrunner-wasm/roadrunner/internal/testcerts"
	"github.com/roadrunner-wasm/roadrunner/transport"
	"github.com/roadrunner-wasm/roadrunner/transport/features"
)

var sockmapDirs atomic.Int64

// openSockmap opens a sockmap pinned under a directory of the test's own
// (so that other tests' nodes do not share it), closed at cleanup with a
// check that its pins went with it.
func openSockmap(t *testing.T) (*transport.Sockmap, string) {
	t.Helper()
	privileged.RequireRoot(t)
	if err := features.HaveSockmap(); err != nil {
		privileged.Skip(t, err.Error())
	}
	dir := fmt.Sprintf("/sys/fs/bpf/rr-transport-test-%d-%d", os.Getpid(), sockmapDirs.Add(1))
	sm := transport.OpenSockmap(&transport.SockmapOptions{PinDir: dir})
	if err := sm.Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		unpinned, err := sm.Close()
		if err != nil || !unpinned {
			t.Errorf("Sockmap.Close: unpinned %v, err %v; want the pins removed", unpinned, err)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("pin directory %s after Close: %v, want gone", dir, err)
		}
	})
	return sm, dir
}

// fallbacks counts OnFallback calls by "accel/to/reason".
type fallbacks struct{ m sync.Map }

func (f *fallbacks) on(accel, to, reason string) {
	v, _ := f.m.LoadOrStore(accel+"/"+to+"/"+reason, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func (f *fallbacks) String() string {
	var b strings.Builder
	f.m.Range(func(k, v any) bool {
		fmt.Fprintf(&b, "%s=%d ", k, v.(*atomic.Int64).Load())
		return true
	})
	return b.String()
}

func (f *fallbacks) get(key string) int64 {
	v, ok := f.m.Load(key)
	if !ok {
		return 0
	}
	return v.(*atomic.Int64).Load()
}

func readNetCounters(t *testing.T, ns *netns.NS) netns.Counters {
	t.Helper()
	c, err := ns.Counters()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// vethServer serves sk on 198.18.0.2 in z, with opts.
func vethServer(t *testing.T, z *netns.NS, sk transport.Sink, opts transport.ServerOptions) string {
	t.Helper()
	ln, err := z.Listen("tcp", "198.18.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	opts.Status = status
	srv := transport.NewServer(sk, transport.PathTCP, &opts)
	serve(t, srv, ln)
	return "tcp://" + ln.Addr().String()
}

// TestSockmapVeth sends payloads of 1 B to 64 MiB between two network
// namespaces joined by a veth, both ends with one sockmap, and checks
// every byte, that the program redirected them (its counter), that
// neither TCP nor the veth carried them (the sender namespace's OutSegs
// and interface bytes), and that the sockets leave the map with their
// connections.
func TestSockmapVeth(t *testing.T) {
	for _, m := range []mechanism{
		{path: transport.PathTCP, mech: transport.MechanismWrite},
		{path: transport.PathTCP, mech: transport.MechanismSplice},
		{path: transport.PathTCP, ring: true},
		{path: transport.PathTCP, ring: true, zc: true},
	} {
		t.Run(m.String(), func(t *testing.T) {
			sm, _ := openSockmap(t)
			a, z := netns.ForTest(t, "smsnd"), netns.ForTest(t, "smrcv")
			if err := netns.Veth(a, "198.18.0.1/24", z, "198.18.0.2/24"); err != nil {
				t.Fatal(err)
			}
			var fb fallbacks
			sk := &sink{reuse: true}
			so := *m.server()
			so.Sockmap, so.OnFallback, so.Limits.MaxPayload = sm, fb.on, 64<<20
			addr := vethServer(t, z, sk, so)
			do := *m.dial(transport.DialOptions{Sockmap: sm, OnFallback: fb.on, Verify: true})
			p, err := transport.NewPeer(addr, &do)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			// The first send dials, from a thread inside a.
			if err := a.Do(func() error { _, err := p.Send(ctx, "fn", []byte("x"), nil); return err }); err != nil {
				t.Fatal(err)
			}
			if n := sm.Sockets(); n != 2 {
				t.Fatalf("sockets in the map after the first connection: %d, want 2 (both ends)", n)
			}
			msgs0, bytes0, err := sm.Stats()
			if err != nil {
				t.Fatal(err)
			}
			net0 := readNetCounters(t, a)
			var total uint64
			sizes := []int{1, 4 << 10, 1 << 20, 64 << 20}
			for i, n := range sizes {
				want := pattern(n, uint64(i))
				if _, err := p.Send(ctx, "check", want, nil); err != nil {
					t.Fatalf("%d bytes: %v", n, err)
				}
				sk.mu.Lock()
				got := sk.last
				sk.mu.Unlock()
				if !bytes.Equal(got, want) {
					t.Fatalf("%d bytes: delivered payload differs", n)
				}
				total += uint64(n)
			}
			msgs1, bytes1, err := sm.Stats()
			if err != nil {
				t.Fatal(err)
			}
			net1 := readNetCounters(t, a)
			t.Logf("redirected %d messages, %d bytes for %d payload bytes; sender namespace: %d TCP segments, %d interface bytes",
				msgs1-msgs0, bytes1-bytes0, total, net1.TCPOutSegs-net0.TCPOutSegs, net1.TxBytes-net0.TxBytes)
			if bytes1-bytes0 < total {
				t.Errorf("the program redirected %d bytes, want at least the %d payload bytes", bytes1-bytes0, total)
			}
			if msgs1-msgs0 < uint64(len(sizes)) {
				t.Errorf("the program redirected %d messages, want at least %d", msgs1-msgs0, len(sizes))
			}
			// Plain TCP would need ~46000 segments of 1448 bytes for
			// these payloads; redirected, only keep-alives and the like
			// are left.
			if segs := net1.TCPOutSegs - net0.TCPOutSegs; segs > 100 {
				t.Errorf("the sender's namespace sent %d TCP segments: the payloads went through TCP", segs)
			}
			if tx := net1.TxBytes - net0.TxBytes; tx > total/100 {
				t.Errorf("the sender's veth sent %d bytes for %d payload bytes: the payloads crossed it", tx, total)
			}
			if s := fb.String(); s != "" {
				t.Errorf("fallbacks reported: %s", s)
			}
			p.Close()
			waitFor(t, func() bool { return sm.Sockets() == 0 }, "sockets in the map after the peer closed: %d, want 0", sm.Sockets())
		})
	}
}

// TestSockmapFallbacks checks the connections to this host that cannot
// use the map: their transfers go through TCP, verified, and each is
// reported with its reason.
func TestSockmapFallbacks(t *testing.T) {
	sm, _ := openSockmap(t)
	other, _ := openSockmap(t)
	for _, tc := range []struct {
		name       string
		dial, srv  *transport.Sockmap
		dialReason string // reported by the dialer per transfer
		srvReason  string // reported by the server per frame
	}{
		{"peer without sockmap", sm, nil, transport.SockmapPeerOff, ""},
		{"another map", sm, other, transport.SockmapOtherMap, transport.SockmapOtherMap},
		{"only the server", nil, sm, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var dfb, sfb fallbacks
			sk := &sink{}
			s := startServer(t, transport.PathTCP, sk, &transport.ServerOptions{Sockmap: tc.srv, OnFallback: sfb.on})
			p := newPeer(t, s.addr, &transport.DialOptions{Sockmap: tc.dial, OnFallback: dfb.on, Verify: true})
			const sends = 3
			for i := range sends {
				want := pattern(1<<20, uint64(i))
				if _, err := p.Send(context.Background(), "fn", want, nil); err != nil {
					t.Fatal(err)
				}
			}
			check := func(side string, fb *fallbacks, reason string) {
				if reason == "" {
					if s := fb.String(); s != "" {
						t.Errorf("%s reported fallbacks %s, want none", side, s)
					}
					return
				}
				if got := fb.get("sockmap/plain/" + reason); got != sends {
					t.Errorf("%s: %d fallbacks for %s, want %d (all: %s)", side, got, reason, sends, fb.String())
				}
			}
			check("dialer", &dfb, tc.dialReason)
			check("server", &sfb, tc.srvReason)
			if n := sm.Sockets() + other.Sockets(); n != 0 {
				t.Errorf("%d sockets in the maps, want 0: no connection may use them", n)
			}
		})
	}
}

// TestSockmapLoopback checks the redirect between two ends in one
// network namespace, as two nodes of one pod would have.
func TestSockmapLoopback(t *testing.T) {
	sm, _ := openSockmap(t)
	key := newKey()
	for _, auth := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "auth"}[auth], func(t *testing.T) {
			var fb fallbacks
			sk := &sink{}
			so := &transport.ServerOptions{Sockmap: sm, OnFallback: fb.on}
			do := &transport.DialOptions{Sockmap: sm, OnFallback: fb.on, Verify: true}
			if auth {
				// The sockmap's part of the HELLO rides on the
				// authenticated exchange.
				so.Auth, do.Auth = newAuth(t, "l", 0, key), newAuth(t, "d", 0, key)
			}
			s := startServer(t, transport.PathTCP, sk, so)
			p := newPeer(t, s.addr, do)
			msgs0, _, _ := sm.Stats()
			want := pattern(8<<20, 7)
			if _, err := p.Send(context.Background(), "fn", want, nil); err != nil {
				t.Fatal(err)
			}
			msgs1, _, _ := sm.Stats()
			if msgs1 == msgs0 {
				t.Fatal("nothing redirected on loopback")
			}
			sk.mu.Lock()
			got := sk.last
			sk.mu.Unlock()
			if !bytes.Equal(got, want) {
				t.Fatal("payload differs")
			}
			if s := fb.String(); s != "" {
				t.Errorf("fallbacks: %s", s)
			}
		})
	}
}

// TestTLSSockmap: TLS connections between two ends of this host with a
// sockmap each stay out of the map, and every transfer counts as a
// fallback with the reason tls on both sides, with and without the HELLO
// keys (which tell the ends they share a host).
func TestTLSSockmap(t *testing.T) {
	sm, _ := openSockmap(t)
	ca := testcerts.NewCA(t, t.TempDir(), "cluster")
	key := newKey()
	for _, auth := range []bool{false, true} {
		t.Run(map[bool]string{false: "tls", true: "tls+auth"}[auth], func(t *testing.T) {
			var sfb, dfb fallbacks
			sk := &sink{}
			so := &transport.ServerOptions{Sockmap: sm, TLS: loadTLS(t, ca, "l"), OnFallback: sfb.on}
			do := &transport.DialOptions{Sockmap: sm, TLS: loadTLS(t, ca, "d"), OnFallback: dfb.on}
			if auth {
				so.Auth, do.Auth = newAuth(t, "l", 0, key), newAuth(t, "d", 0, key)
			}
			s := startServer(t, transport.PathTCP, sk, so)
			p := newPeer(t, s.addr, do)
			for range 3 {
				if _, err := p.Send(context.Background(), "fn", pattern(1<<20, 5), nil); err != nil {
					t.Fatal(err)
				}
			}
			if n := sm.Sockets(); n != 0 {
				t.Errorf("%d sockets in the map, want none: TLS records cannot take it", n)
			}
			if got := dfb.get("sockmap/plain/tls"); got != 3 {
				t.Errorf("dialer: %s; want sockmap/plain/tls=3", dfb.String())
			}
			if got := sfb.get("sockmap/plain/tls"); got != 3 {
				t.Errorf("listener: %s; want sockmap/plain/tls=3", sfb.String())
			}
		})
	}
}
