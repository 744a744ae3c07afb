package testdns

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// ttl is the TTL of every record, in seconds: short, so resolvers that
// cache ask again soon.
const ttl = 1

// Server is an authoritative DNS server on loopback, UDP and TCP on one port.
type Server struct {
	t    testing.TB
	addr string // host:port, fixed once the first listen succeeds

	// run serialises Stop and Resume; it is never held by the handler, so
	// Stop can wait for handlers while holding it.
	run     sync.Mutex
	serving []*dns.Server // UDP and TCP; nil while stopped

	mu      sync.Mutex
	records map[string][]netip.Addr // lowercase FQDN -> addresses; a key with nil is a known, empty name
	queries map[string]int          // lowercase FQDN -> queries answered
}

// Start listens on 127.0.0.1:0 (same port for UDP and TCP) and serves.
// t.Cleanup stops it. Start calls t.Fatal if it cannot listen.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartOn(t, "127.0.0.1:0")
}

// StartOn is Start on a given address such as "198.18.0.1:53" or
// "127.0.0.1:0" (tests in network namespaces need a fixed address). With
// port 0 the server takes a port free for both UDP and TCP.
func StartOn(t testing.TB, addr string) *Server {
	t.Helper()
	s := &Server{
		t:       t,
		records: make(map[string][]netip.Addr),
		queries: make(map[string]int),
	}
	pc, ln, err := listen(addr)
	if err != nil {
		t.Fatalf("testdns: %v", err)
	}
	s.addr = pc.LocalAddr().String()
	s.serve(pc, ln)
	t.Cleanup(s.Stop)
	return s
}

// listen binds UDP and TCP on the same address. If addr's port is 0 it
// retries until the port the kernel picked for UDP is free for TCP too.
func listen(addr string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("address %q: %w", addr, err)
	}
	for attempt := 0; ; attempt++ {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("listen udp: %w", err)
		}
		udpPort := strconv.Itoa(pc.LocalAddr().(*net.UDPAddr).Port)
		ln, err := net.Listen("tcp", net.JoinHostPort(host, udpPort))
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		if port != "0" || attempt == 20 {
			return nil, nil, fmt.Errorf("listen tcp: %w", err)
		}
	}
}

// serve starts a dns.Server on each socket and returns once both serve, so
// that Stop cannot find one not yet started.
func (s *Server) serve(pc net.PacketConn, ln net.Listener) {
	started := make(chan struct{}, 2)
	failed := make(chan error, 2)
	s.serving = []*dns.Server{
		{PacketConn: pc, Handler: handler{s, true}},
		{Listener: ln, Handler: handler{s, false}},
	}
	for _, srv := range s.serving {
		srv.NotifyStartedFunc = func() { started <- struct{}{} }
		go func() {
			if err := srv.ActivateAndServe(); err != nil {
				failed <- err
			}
		}()
	}
	for range s.serving {
		select {
		case <-started:
		case err := <-failed:
			// Closing the sockets ends the one that may have started.
			pc.Close()
			ln.Close()
			s.serving = nil
			s.t.Fatalf("testdns: serve: %v", err)
		}
	}
}

// Addr is host:port (same for udp and tcp).
func (s *Server) Addr() string { return s.addr }

// Set replaces the A and AAAA records of name (fully qualified or not;
// case-insensitive) with addrs (IPv4 -> A, IPv6 -> AAAA). No addrs: the
// name answers NOERROR with no records (like a headless Service with no
// ready pods). Set panics on an invalid (zero) netip.Addr.
func (s *Server) Set(name string, addrs ...netip.Addr) {
	for _, a := range addrs {
		if !a.IsValid() {
			panic(fmt.Sprintf("testdns: Set(%q): invalid address", name))
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records[canonical(name)] = append([]netip.Addr(nil), addrs...)
}

// Stop makes the server stop answering: its sockets are closed, so queries
// are refused or time out. It returns once they are closed. Stopping a
// stopped server does nothing.
func (s *Server) Stop() {
	s.run.Lock()
	defer s.run.Unlock()
	for _, srv := range s.serving {
		// Shutdown closes the socket and waits for the handlers.
		if err := srv.ShutdownContext(context.Background()); err != nil {
			s.t.Errorf("testdns: stop: %v", err)
		}
	}
	s.serving = nil
}

// Resume makes a stopped server serve again on the same address; resuming
// a serving server does nothing. Like Start, it calls t.Fatal if it cannot
// listen (another socket took the port meanwhile), so call it from the
// test's goroutine.
func (s *Server) Resume() {
	s.t.Helper()
	s.run.Lock()
	defer s.run.Unlock()
	if s.serving != nil {
		return
	}
	pc, ln, err := listen(s.addr)
	if err != nil {
		s.t.Fatalf("testdns: resume: %v", err)
	}
	s.serve(pc, ln)
}

// Queries is how many queries the server has answered, per name
// (lowercase, fully qualified; other spellings are made so).
func (s *Server) Queries(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries[canonical(name)]
}

// canonical is name lowercase and fully qualified, the records' key.
func canonical(name string) string { return strings.ToLower(dns.Fqdn(name)) }

// handler answers queries from s's records; udp says the transport, which
// decides whether answers are truncated.
type handler struct {
	s   *Server
	udp bool
}

// ServeDNS answers r. The dns package has already refused, with FORMERR,
// any query without exactly one question.
func (h handler) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	q := r.Question[0]
	key := canonical(q.Name)

	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true

	h.s.mu.Lock()
	addrs, known := h.s.records[key]
	h.s.queries[key]++
	h.s.mu.Unlock()

	if !known {
		m.Rcode = dns.RcodeNameError
	}
	for _, a := range addrs {
		hdr := dns.RR_Header{Name: q.Name, Class: dns.ClassINET, Ttl: ttl}
		switch {
		case q.Qtype == dns.TypeA && a.Is4():
			hdr.Rrtype = dns.TypeA
			m.Answer = append(m.Answer, &dns.A{Hdr: hdr, A: a.AsSlice()})
		case q.Qtype == dns.TypeAAAA && !a.Is4():
			hdr.Rrtype = dns.TypeAAAA
			m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr, AAAA: a.AsSlice()})
		}
	}

	size := dns.MaxMsgSize
	if h.udp {
		size = dns.MinMsgSize
	}
	if opt := r.IsEdns0(); opt != nil {
		if h.udp {
			size = int(opt.UDPSize()) // Truncate takes anything under 512 as 512
		}
		m.SetEdns0(dns.DefaultMsgSize, false)
	}
	m.Truncate(size)
	// A failed write is the client's problem (it went away); it retries or
	// times out, which is what a test of it wants to see.
	_ = w.WriteMsg(m)
}
