package transport_test

import (
	"context"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/transport"
)

// BenchmarkConnect measures what a new connection costs before its first
// transfer (docs/BENCHMARKS.md, issue 16): one op is a new Peer's first
// Send of 1 byte, which dials, runs the handshakes the case asks for and
// carries the byte, then closes the Peer. The HELLO's cost is auth's time
// less plain's; TLS's is tls's less plain's.
//
//	go test -run '^$' -bench Connect -count 10 ./transport/
func BenchmarkConnect(b *testing.B) {
	for _, c := range []pathsCase{
		{name: "unix", network: "unix"},
		{name: "unix-auth", network: "unix", auth: true},
		{name: "tcp", network: "tcp", mech: transport.MechanismWrite},
		{name: "tcp-auth", network: "tcp", mech: transport.MechanismWrite, auth: true},
		{name: "tcp-tls", network: "tcp", tls: true},
		{name: "tcp-tls-auth", network: "tcp", tls: true, auth: true},
	} {
		b.Run(c.name, func(b *testing.B) {
			dialAuth, listenAuth, dialTLS, listenTLS := benchSecurity(b, c)
			path, _ := transport.ParsePath(c.network)
			s := startServer(b, path, &benchSink{buf: make([]byte, 64)}, &transport.ServerOptions{Auth: listenAuth, TLS: listenTLS})
			opts := &transport.DialOptions{Auth: dialAuth, TLS: dialTLS, Mechanism: c.mech}
			ctx := context.Background()
			one := []byte{1}
			for b.Loop() {
				p, err := transport.NewPeer(s.addr, opts)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := p.Send(ctx, "fn", one, nil); err != nil {
					b.Fatal(err)
				}
				p.Close()
			}
		})
	}
}
