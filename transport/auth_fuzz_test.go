package transport_test

import (
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/transport"
	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

// FuzzAuthListener feeds arbitrary bytes, as a dialer, to a unix Server
// that requires the HELLO authentication. Without the key no input can
// prove it, so for every input: the Server closes the connection, sends
// nothing but its first HELLO (version, nonce, name, proof: nothing about
// its host), and nothing reaches the sink. CI runs it briefly (make test).
func FuzzAuthListener(f *testing.F) {
	m1 := helloFrame((&wire.Hello{Version: wire.AuthVersion, HasNonce: true, Name: "fuzz"}).Append(nil))
	f.Add(m1)
	f.Add(append(append([]byte{}, m1...), helloFrame((&wire.Hello{HasMAC: true, HasHost: true}).Append(nil))...))
	f.Add(append(append([]byte{}, m1...), helloFrame((&wire.Hello{Refuse: true}).Append(nil))...))
	f.Add(append(append([]byte{}, m1...), dataFrame("fn", []byte("x"), nil)...))
	f.Add(dataFrame("fn", []byte("payload"), nil))
	f.Add(helloFrame((&wire.Hello{Version: 9, HasNonce: true, Name: "x"}).Append(nil)))
	f.Add([]byte{})

	sk := &sink{}
	s := startServer(f, transport.PathUnix, sk, &transport.ServerOptions{Auth: newAuth(f, "listener", time.Second, newKey())})
	sock := strings.TrimPrefix(s.addr, "unix://")
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		go func() {
			c.Write(in) // fails once the listener has closed: fine
			c.(*net.UnixConn).CloseWrite()
		}()
		out, err := io.ReadAll(c)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatal("the listener did not close the connection")
		}
		for len(out) > 0 {
			h, herr := wire.ParseHeader(out, wire.Limits{})
			if herr != nil || h.Kind != wire.KindHello || uint64(len(out)) < wire.HeaderSize+h.PayloadLen {
				t.Fatalf("the listener sent %x: want HELLOs only (%v)", out, herr)
			}
			hl, perr := wire.ParseHello(out[wire.HeaderSize : wire.HeaderSize+h.PayloadLen])
			if perr != nil || hl.HasHost || hl.MapID != 0 || hl.Cookie != 0 {
				t.Fatalf("the listener said %+v (%v) to a dialer that proved nothing", hl, perr)
			}
			out = out[wire.HeaderSize+h.PayloadLen:]
		}
		if n := sk.fills.Load(); n != 0 {
			t.Fatalf("%d payloads reached the sink", n)
		}
	})
}
