package wire_test

import (
	"bytes"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

// FuzzParseHello: whatever ParseHello accepts re-encodes to a payload that
// parses to the same Hello, within MaxHelloPayload, with a valid name; and
// it never panics. CI runs it briefly (make test).
func FuzzParseHello(f *testing.F) {
	full := wire.Hello{HasHost: true, MapID: 7, Cookie: 9, Version: wire.AuthVersion, HasNonce: true, Name: "node-a", HasMAC: true, Refuse: true, Directory: wire.DirectoryVersion, Shm: true, Trace: wire.TraceVersion}
	copy(full.Host[:], "0123456789abcdef")
	f.Add(full.Append(nil))
	f.Add((&wire.Hello{Version: wire.AuthVersion, HasNonce: true, Name: "n"}).Append(nil))
	f.Add([]byte{wire.HelloName, 3, 'a', '/', 'b'})
	f.Add([]byte{wire.HelloVersion, 1, 1, wire.HelloVersion, 1, 1})
	f.Add([]byte{200, 2, 0, 0, wire.HelloNonce, 31})
	f.Add([]byte{wire.HelloTrace, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := wire.ParseHello(b)
		if err != nil {
			return
		}
		if h.Name != "" && (len(h.Name) > wire.MaxNameLen || !wire.ValidName([]byte(h.Name))) {
			t.Fatalf("accepted name %q", h.Name)
		}
		enc := h.Append(nil)
		if len(enc) > wire.MaxHelloPayload {
			t.Fatalf("re-encoded to %d bytes", len(enc))
		}
		h2, err := wire.ParseHello(enc)
		if err != nil || h2 != h {
			t.Fatalf("round trip: %+v -> %x -> %+v, %v", h, enc, h2, err)
		}
		if !bytes.Equal(h2.Append(nil), enc) {
			t.Fatal("encoding is not stable")
		}
	})
}
