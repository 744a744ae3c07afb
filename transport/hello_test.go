package transport_test

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/transport"
	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

// TestHelloServer speaks to a Server without a sockmap as a dialer with
// one would: the first HELLO gets an answer with the host and no map, a
// DATA frame then goes through, and a second HELLO closes the connection.
func TestHelloServer(t *testing.T) {
	sk := &sink{}
	s := startServer(t, transport.PathTCP, sk, nil)
	c, err := net.Dial("tcp", s.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	hello := func() {
		t.Helper()
		hl := wire.Hello{HasHost: true, MapID: 99}
		copy(hl.Host[:], bytes.Repeat([]byte{1}, 16))
		p := hl.Append(nil)
		h := wire.Header{Kind: wire.KindHello, PayloadLen: uint64(len(p))}
		if _, err := c.Write(append(wire.AppendHeader(nil, &h), p...)); err != nil {
			t.Fatal(err)
		}
	}
	hello()
	var buf [wire.HeaderSize]byte
	h, err := wire.ReadHeader(c, &buf, wire.Limits{})
	if err != nil || h.Kind != wire.KindHello {
		t.Fatalf("answer to HELLO: %+v, %v", h, err)
	}
	p := make([]byte, h.PayloadLen)
	if err := wire.ReadPayload(c, h, p); err != nil {
		t.Fatal(err)
	}
	got, err := wire.ParseHello(p)
	want, herr := transport.HostID()
	if err != nil || herr != nil || !got.HasHost || got.Host != want || got.MapID != 0 || got.Cookie != 0 {
		t.Fatalf("answer: %+v (want host %x, %v), %v; want this host and no map", got, want, herr, err)
	}
	if _, err := c.Write(dataFrame("fn", []byte("after hello"), nil)); err != nil {
		t.Fatal(err)
	}
	if h, err := wire.ReadHeader(c, &buf, wire.Limits{}); err != nil || h.Kind != wire.KindAck || h.Status != 0 {
		t.Fatalf("DATA after HELLO: %+v, %v; want ACK 0", h, err)
	}
	hello()
	if _, err := wire.ReadHeader(c, &buf, wire.Limits{}); err == nil {
		t.Fatal("a second HELLO was answered; want the connection closed")
	}
	waitFor(t, func() bool { return s.refusals(transport.RefusedBadFrame) == 1 }, "refusals: %d bad frames, want 1", s.refusals(transport.RefusedBadFrame))
}
