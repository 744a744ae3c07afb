package testdns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// resolver is Go's own resolver sending every query to srv, whatever
// /etc/resolv.conf names. If dialed is not nil it records the networks
// dialed ("udp", "tcp").
func resolver(srv *Server, dialed *sync.Map) *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			if dialed != nil {
				dialed.Store(network, true)
			}
			return (&net.Dialer{}).DialContext(ctx, network, srv.Addr())
		},
	}
}

// lookup resolves name for network ("ip", "ip4", "ip6") through srv,
// bounded by a second, and returns the addresses sorted.
func lookup(t *testing.T, srv *Server, network, name string) ([]netip.Addr, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	addrs, err := resolver(srv, nil).LookupNetIP(ctx, network, name)
	slices.SortFunc(addrs, netip.Addr.Compare)
	return addrs, err
}

// mustLookup is lookup that fails the test on an error or on addresses
// other than want (in any order).
func mustLookup(t *testing.T, srv *Server, network, name string, want ...netip.Addr) {
	t.Helper()
	got, err := lookup(t, srv, network, name)
	if err != nil {
		t.Fatalf("LookupNetIP(%s, %s): %v", network, name, err)
	}
	want = slices.SortedFunc(slices.Values(want), netip.Addr.Compare)
	if !slices.Equal(got, want) {
		t.Fatalf("LookupNetIP(%s, %s) = %v, want %v", network, name, got, want)
	}
}

// exchange sends one query for name and qtype to srv over network ("udp"
// or "tcp"), with an EDNS(0) record offering ednsSize if it is not 0.
func exchange(t *testing.T, srv *Server, network, name string, qtype uint16, ednsSize uint16) *dns.Msg {
	t.Helper()
	q := new(dns.Msg).SetQuestion(dns.Fqdn(name), qtype)
	if ednsSize != 0 {
		q.SetEdns0(ednsSize, false)
	}
	c := &dns.Client{Net: network, Timeout: time.Second, UDPSize: 65535}
	r, _, err := c.Exchange(q, srv.Addr())
	if err != nil {
		t.Fatalf("%s query for %s %s: %v", network, name, dns.TypeToString[qtype], err)
	}
	return r
}

func TestLookup(t *testing.T) {
	srv := Start(t)
	v4, v6 := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("fd00::1")
	srv.Set("Web.Test", v4, v6)

	mustLookup(t, srv, "ip", "web.test.", v4, v6)
	mustLookup(t, srv, "ip4", "WEB.TEST.", v4)
	mustLookup(t, srv, "ip6", "web.test.", v6)

	// "ip" asks for A and AAAA, "ip4" and "ip6" for one each.
	if n := srv.Queries("WEB.test"); n != 4 {
		t.Errorf("Queries(web.test) = %d, want 4", n)
	}

	r := exchange(t, srv, "udp", "web.test", dns.TypeA, 0)
	if !r.Authoritative || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Fatalf("A query: %v", r)
	}
	if ttl := r.Answer[0].Header().Ttl; ttl != 1 {
		t.Errorf("TTL %d, want 1", ttl)
	}
}

func TestSet(t *testing.T) {
	srv := Start(t)
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")

	srv.Set("svc.test", a)
	mustLookup(t, srv, "ip4", "svc.test.", a)
	srv.Set("svc.test.", b, a)
	mustLookup(t, srv, "ip4", "svc.test.", a, b)
	srv.Set("svc.test", b)
	mustLookup(t, srv, "ip4", "svc.test.", b)

	// No addresses: NOERROR and no records, which Go's resolver reports as
	// not found too, but not as NXDOMAIN on the wire.
	srv.Set("svc.test")
	_, err := lookup(t, srv, "ip", "svc.test.")
	if dnsErr, ok := errors.AsType[*net.DNSError](err); !ok || !dnsErr.IsNotFound {
		t.Fatalf("lookup of an empty name: %v, want a not-found *net.DNSError", err)
	}
	r := exchange(t, srv, "udp", "svc.test", dns.TypeA, 0)
	if r.Rcode != dns.RcodeSuccess || !r.Authoritative || len(r.Answer) != 0 {
		t.Fatalf("empty name: %v, want an authoritative NOERROR without answers", r)
	}
}

func TestUnknown(t *testing.T) {
	srv := Start(t)
	srv.Set("known.test", netip.MustParseAddr("10.0.0.1"))

	_, err := lookup(t, srv, "ip", "unknown.test.")
	if dnsErr, ok := errors.AsType[*net.DNSError](err); !ok || !dnsErr.IsNotFound {
		t.Fatalf("lookup of an unknown name: %v, want a not-found *net.DNSError", err)
	}
	r := exchange(t, srv, "udp", "unknown.test", dns.TypeA, 0)
	if r.Rcode != dns.RcodeNameError || !r.Authoritative {
		t.Fatalf("unknown name: %v, want an authoritative NXDOMAIN", r)
	}

	// A known name asked for another type: NOERROR, no records.
	r = exchange(t, srv, "tcp", "known.test", dns.TypeTXT, 0)
	if r.Rcode != dns.RcodeSuccess || !r.Authoritative || len(r.Answer) != 0 {
		t.Fatalf("TXT for a known name: %v, want an authoritative NOERROR without answers", r)
	}
}

// many is n IPv4 addresses.
func many(n int) []netip.Addr {
	addrs := make([]netip.Addr, n)
	for i := range addrs {
		addrs[i] = netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
	}
	return addrs
}

func TestTruncation(t *testing.T) {
	srv := Start(t)
	srv.Set("many.test", many(60)...)

	// Without EDNS(0), 60 A records do not fit in 512 bytes: a partial
	// answer with TC set, and the whole set over TCP.
	r := exchange(t, srv, "udp", "many.test", dns.TypeA, 0)
	if !r.Truncated || len(r.Answer) >= 60 {
		t.Errorf("60 A over UDP: TC %v with %d answers, want TC and fewer than 60", r.Truncated, len(r.Answer))
	}
	r.Compress = true // as it was sent
	if n := r.Len(); n > dns.MinMsgSize {
		t.Errorf("60 A over UDP: %d bytes, more than %d", n, dns.MinMsgSize)
	}
	r = exchange(t, srv, "tcp", "many.test", dns.TypeA, 0)
	if r.Truncated || len(r.Answer) != 60 {
		t.Errorf("60 A over TCP: TC %v with %d answers, want all 60", r.Truncated, len(r.Answer))
	}
	// The size an EDNS(0) query offers is honoured: 60 compressed A
	// records fit in 4096 bytes.
	r = exchange(t, srv, "udp", "many.test", dns.TypeA, 4096)
	if r.Truncated || len(r.Answer) != 60 || r.IsEdns0() == nil {
		t.Errorf("60 A over UDP with EDNS(0) 4096: TC %v with %d answers, OPT %v; want all 60 and an OPT", r.Truncated, len(r.Answer), r.IsEdns0())
	}
}

func TestTCPRetry(t *testing.T) {
	// Go's resolver offers 1232 bytes over UDP with EDNS(0), where 60
	// compressed A records (16 bytes each) still fit; 100 do not, so it
	// gets TC and asks again over TCP.
	srv := Start(t)
	want := many(100)
	srv.Set("many.test", want...)

	var dialed sync.Map
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	got, err := resolver(srv, &dialed).LookupNetIP(ctx, "ip4", "many.test.")
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(got, netip.Addr.Compare)
	if !slices.Equal(got, want) {
		t.Fatalf("got %d addresses %v, want the 100 set", len(got), got)
	}
	if _, ok := dialed.Load("tcp"); !ok {
		t.Error("the resolver did not ask over TCP")
	}
	if n := srv.Queries("many.test"); n != 2 {
		t.Errorf("Queries(many.test) = %d, want 2 (UDP, then TCP)", n)
	}
}

func TestStopResume(t *testing.T) {
	srv := Start(t)
	a := netip.MustParseAddr("10.0.0.1")
	srv.Set("svc.test", a)
	mustLookup(t, srv, "ip4", "svc.test.", a)

	srv.Stop()
	if got, err := lookup(t, srv, "ip4", "svc.test."); err == nil {
		t.Fatalf("lookup with the server stopped = %v, want an error", got)
	}
	srv.Stop() // stopping twice does nothing

	srv.Resume()
	mustLookup(t, srv, "ip4", "svc.test.", a)
	srv.Resume() // resuming a serving server does nothing
	mustLookup(t, srv, "ip4", "svc.test.", a)
}

func TestStartOn(t *testing.T) {
	// A fixed address: the port a server had, once it no longer holds
	// it. Another process (CI runs test packages side by side) may take
	// that port in between: then the next port is tried.
	var addr string
	for attempt := 0; ; attempt++ {
		srv := StartOn(t, "127.0.0.1:0")
		addr = srv.Addr()
		srv.Stop()
		pc, ln, err := listen(addr)
		if err == nil {
			pc.Close()
			ln.Close()
			break
		}
		if attempt == 10 || !errors.Is(err, syscall.EADDRINUSE) {
			t.Fatal(err)
		}
	}
	fixed := StartOn(t, addr)
	if fixed.Addr() != addr {
		t.Fatalf("StartOn(%s).Addr() = %s", addr, fixed.Addr())
	}
	a := netip.MustParseAddr("10.0.0.1")
	fixed.Set("svc.test", a)
	mustLookup(t, fixed, "ip4", "svc.test.", a)
	exchange(t, fixed, "tcp", "svc.test", dns.TypeA, 0)
}

// TestHammer sets, looks up and counts from many goroutines at once, for
// the race detector.
func TestHammer(t *testing.T) {
	srv := Start(t)
	const goroutines, iterations = 8, 20
	var lookups atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			name := fmt.Sprintf("svc%d.test", g%2)
			for i := range iterations {
				srv.Set(name, netip.AddrFrom4([4]byte{10, 0, byte(g), byte(i)}))
				ctx, cancel := context.WithTimeout(t.Context(), time.Second)
				addrs, err := resolver(srv, nil).LookupNetIP(ctx, "ip4", name+".")
				cancel()
				if err != nil || len(addrs) != 1 {
					t.Errorf("lookup of %s: %v, %v", name, addrs, err)
					return
				}
				lookups.Add(1)
				srv.Queries(name)
			}
		})
	}
	wg.Wait()
	if n := int64(srv.Queries("svc0.test") + srv.Queries("svc1.test")); n != lookups.Load() {
		t.Errorf("Queries total %d, want %d", n, lookups.Load())
	}
}
