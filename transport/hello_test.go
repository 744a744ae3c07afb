package transport_test

import (
	"bytes"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/transport"
)

func TestHelloCodec(t *testing.T) {
	host := bytes.Repeat([]byte{0xAB}, 16)
	for _, tc := range []struct {
		name   string
		host   []byte
		mapID  uint32
		cookie uint64
	}{
		{"empty", nil, 0, 0},
		{"host", host, 0, 0},
		{"dialer", host, 42, 0},
		{"listener", host, 42, 1 << 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := transport.HelloOptions(tc.host, tc.mapID, tc.cookie)
			if len(b) > transport.MaxHelloPayload {
				t.Fatalf("%d bytes, over MaxHelloPayload", len(b))
			}
			h, m, c, err := transport.ParseHello(b)
			if err != nil || !bytes.Equal(h, tc.host) || m != tc.mapID || c != tc.cookie {
				t.Fatalf("ParseHello(HelloOptions) = %x, %d, %d, %v", h, m, c, err)
			}
		})
	}
	// An unknown option is skipped: later versions add their own.
	b := append([]byte{200, 3, 1, 2, 3}, transport.HelloOptions(host, 7, 0)...)
	if h, m, _, err := transport.ParseHello(b); err != nil || !bytes.Equal(h, host) || m != 7 {
		t.Fatalf("with an unknown option first: %x, %d, %v", h, m, err)
	}
	for name, b := range map[string][]byte{
		"cut short":         {1, 16, 0, 0},
		"lone type":         {1},
		"host of 15 bytes":  append([]byte{1, 15}, host[:15]...),
		"map id of 8 bytes": {2, 8, 0, 0, 0, 0, 0, 0, 0, 0},
	} {
		if _, _, _, err := transport.ParseHello(b); !errors.Is(err, transport.ErrBadFrame) {
			t.Errorf("%s: %v, want a bad frame", name, err)
		}
	}
}

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
		p := transport.HelloOptions(bytes.Repeat([]byte{1}, 16), 99, 0)
		h := transport.Header{Kind: transport.KindHello, PayloadLen: uint64(len(p))}
		if _, err := c.Write(append(transport.AppendHeader(nil, &h), p...)); err != nil {
			t.Fatal(err)
		}
	}
	hello()
	var buf [transport.HeaderSize]byte
	h, err := transport.ReadHeader(c, &buf, transport.Limits{})
	if err != nil || h.Kind != transport.KindHello {
		t.Fatalf("answer to HELLO: %+v, %v", h, err)
	}
	p := make([]byte, h.PayloadLen)
	if err := transport.ReadPayload(c, h, p); err != nil {
		t.Fatal(err)
	}
	host, mapID, cookie, err := transport.ParseHello(p)
	want, herr := transport.HostID()
	if err != nil || herr != nil || !bytes.Equal(host, want[:]) || mapID != 0 || cookie != 0 {
		t.Fatalf("answer: host %x (want %x, %v), map %d, cookie %d, %v; want this host and no map", host, want, herr, mapID, cookie, err)
	}
	if _, err := c.Write(dataFrame("fn", []byte("after hello"), nil)); err != nil {
		t.Fatal(err)
	}
	if h, err := transport.ReadHeader(c, &buf, transport.Limits{}); err != nil || h.Kind != transport.KindAck || h.Status != 0 {
		t.Fatalf("DATA after HELLO: %+v, %v; want ACK 0", h, err)
	}
	hello()
	if _, err := transport.ReadHeader(c, &buf, transport.Limits{}); err == nil {
		t.Fatal("a second HELLO was answered; want the connection closed")
	}
	waitFor(t, func() bool { return s.refusals(transport.RefusedBadFrame) == 1 }, "refusals: %d bad frames, want 1", s.refusals(transport.RefusedBadFrame))
}
