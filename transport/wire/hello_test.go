package wire_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/transport/wire"
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
			b := helloOptions(tc.host, tc.mapID, tc.cookie)
			if len(b) > wire.MaxHelloPayload {
				t.Fatalf("%d bytes, over MaxHelloPayload", len(b))
			}
			h, err := wire.ParseHello(b)
			if err != nil || !bytes.Equal(hostOf(h), tc.host) || h.MapID != tc.mapID || h.Cookie != tc.cookie {
				t.Fatalf("ParseHello(Append) = %+v, %v", h, err)
			}
		})
	}
	// An unknown option is skipped: later versions add their own.
	b := append([]byte{200, 3, 1, 2, 3}, helloOptions(host, 7, 0)...)
	if h, err := wire.ParseHello(b); err != nil || !bytes.Equal(hostOf(h), host) || h.MapID != 7 {
		t.Fatalf("with an unknown option first: %+v, %v", h, err)
	}
	for name, b := range map[string][]byte{
		"cut short":         {1, 16, 0, 0},
		"lone type":         {1},
		"host of 15 bytes":  append([]byte{1, 15}, host[:15]...),
		"map id of 8 bytes": {2, 8, 0, 0, 0, 0, 0, 0, 0, 0},
	} {
		if _, err := wire.ParseHello(b); !errors.Is(err, wire.ErrBadFrame) {
			t.Errorf("%s: %v, want a bad frame", name, err)
		}
	}
}

// helloOptions encodes a HELLO payload with the given options; a nil host
// leaves the host option out.
func helloOptions(host []byte, mapID uint32, cookie uint64) []byte {
	h := wire.Hello{MapID: mapID, Cookie: cookie}
	if host != nil {
		copy(h.Host[:], host)
		h.HasHost = true
	}
	return h.Append(nil)
}

func hostOf(h wire.Hello) []byte {
	if !h.HasHost {
		return nil
	}
	return h.Host[:]
}
