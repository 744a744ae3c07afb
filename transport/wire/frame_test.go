package wire_test

import (
	"bytes"
	"errors"
	"io"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/roadrunner-wasm/roadrunner/abi"
	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

func encode(h wire.Header) []byte {
	b := make([]byte, wire.HeaderSize)
	h.Put(b)
	return b
}

func TestHeaderLayout(t *testing.T) {
	h := wire.Header{
		Kind:       wire.KindData,
		Flags:      wire.FlagCRC,
		NameLen:    0x0102,
		PayloadLen: 0x0807060504030201,
		ID:         0x1112131415161718,
		CRC:        0xaabbccdd,
		Status:     -3,
	}
	want := []byte{
		'R', 'R', 'F', '1', // 0: magic
		0x01,       // 4: kind DATA
		0x01,       // 5: flags CRC
		0x02, 0x01, // 6: name_len
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, // 8: payload_len
		0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11, // 16: id
		0xdd, 0xcc, 0xbb, 0xaa, // 24: crc32c
		0xfd, 0xff, 0xff, 0xff, // 28: status -3, two's complement
	}
	if len(want) != wire.HeaderSize {
		t.Fatalf("expected slice has %d bytes", len(want))
	}
	if got := encode(h); !bytes.Equal(got, want) {
		t.Fatalf("Put:\n got % x\nwant % x", got, want)
	}
	prefix := []byte("xy")
	if got := wire.AppendHeader(prefix, &h); !bytes.Equal(got, append([]byte("xy"), want...)) {
		t.Fatalf("AppendHeader:\n got % x\nwant xy % x", got, want)
	}
	if wire.Magic != 0x31465252 {
		t.Fatalf("Magic = %#x", wire.Magic)
	}
	for k, s := range map[wire.Kind]string{1: "DATA", 2: "ACK", 3: "HELLO", 4: "REPLY", 5: "DIRECTORY", 6: "HOPS", 0: "Kind(0)", 9: "Kind(9)"} {
		if k.String() != s {
			t.Errorf("Kind(%d).String() = %q, want %q", k, k.String(), s)
		}
	}
}

func TestHeaderRoundTrip(t *testing.T) {
	lim := wire.Limits{}
	for _, h := range []wire.Header{
		{Kind: wire.KindData, NameLen: 1, PayloadLen: 0, ID: 0},
		{Kind: wire.KindData, NameLen: 5, PayloadLen: 1, ID: 1},
		{Kind: wire.KindData, NameLen: wire.MaxNameLen, PayloadLen: wire.DefaultMaxPayload, ID: math.MaxUint64},
		{Kind: wire.KindData, Flags: wire.FlagCRC, NameLen: 3, PayloadLen: 9, ID: 7, CRC: wire.Checksum([]byte("123456789"))},
		{Kind: wire.KindData, Flags: wire.FlagCRC, NameLen: 3, PayloadLen: 0, ID: 8, CRC: 0},
		wire.NewAck(7, 0),
		wire.NewAck(math.MaxUint64, -12),
		{Kind: wire.KindHello},
		{Kind: wire.KindHello, PayloadLen: wire.MaxHelloPayload, ID: 3},
	} {
		b := encode(h)
		got, err := wire.ParseHeader(b, lim)
		if err != nil {
			t.Errorf("%+v: %v", h, err)
			continue
		}
		if got != h {
			t.Errorf("round trip: got %+v, want %+v", got, h)
		}
		if err := h.Validate(lim); err != nil {
			t.Errorf("Validate(%+v): %v", h, err)
		}
	}
}

// TestChecksumKnownValue pins the polynomial: CRC32C("123456789") is the
// standard check value 0xe3069283 (CRC-32C in the RFC 3720 catalogue).
func TestChecksumKnownValue(t *testing.T) {
	if got := wire.Checksum([]byte("123456789")); got != 0xe3069283 {
		t.Fatalf("Checksum = %#x, want 0xe3069283", got)
	}
}

// TestAckCodes checks that every code of the ABI table travels in an ACK and
// comes back as the same abi.Code, and that the code past the end of the
// table is refused.
func TestAckCodes(t *testing.T) {
	codes := abi.Codes()
	lowest := abi.OK
	for _, c := range codes {
		h := wire.NewAck(42, int32(c))
		got, err := wire.ParseHeader(encode(h), wire.Limits{})
		if err != nil {
			t.Fatalf("ACK with %d (%v): %v", c, c, err)
		}
		if abi.Code(got.Status) != c || got.ID != 42 || got.Kind != wire.KindAck {
			t.Fatalf("ACK with %d came back as %+v", c, got)
		}
		lowest = min(lowest, c)
	}
	for _, s := range []int32{int32(lowest) - 1, 1, math.MinInt32, math.MaxInt32} {
		_, err := wire.ParseHeader(encode(wire.NewAck(1, s)), wire.Limits{})
		if field(err) != "status" {
			t.Errorf("ACK with status %d: err %v, want a status error", s, err)
		}
	}
}

func field(err error) string {
	var fe *wire.FrameError
	if !errors.As(err, &fe) {
		return ""
	}
	return fe.Field
}

func TestParseHeaderInvalid(t *testing.T) {
	data := func(f func(*wire.Header)) []byte {
		h := wire.Header{Kind: wire.KindData, NameLen: 4, PayloadLen: 100, ID: 9}
		f(&h)
		return encode(h)
	}
	ack := func(f func(*wire.Header)) []byte {
		h := wire.NewAck(9, -2)
		f(&h)
		return encode(h)
	}
	hello := func(f func(*wire.Header)) []byte {
		h := wire.Header{Kind: wire.KindHello, PayloadLen: 32}
		f(&h)
		return encode(h)
	}
	reply := func(f func(*wire.Header)) []byte {
		h := wire.Header{Kind: wire.KindReply, PayloadLen: 32, ID: 9}
		f(&h)
		return encode(h)
	}
	dir := func(f func(*wire.Header)) []byte {
		h := wire.Header{Kind: wire.KindDirectory, PayloadLen: 32, ID: 9}
		f(&h)
		return encode(h)
	}
	lim := wire.Limits{MaxPayload: 1 << 20, MaxName: 16}
	for _, tc := range []struct {
		name  string
		b     []byte
		lim   wire.Limits
		field string
	}{
		{"bad magic", append([]byte("RRF2"), data(func(*wire.Header) {})[4:]...), lim, "magic"},
		{"magic byte order", append([]byte("1FRR"), data(func(*wire.Header) {})[4:]...), lim, "magic"},
		{"zeroes", make([]byte, 32), lim, "magic"},
		{"kind 0", data(func(h *wire.Header) { h.Kind = 0 }), lim, "kind"},
		{"kind 9", data(func(h *wire.Header) { h.Kind = 9 }), lim, "kind"},
		{"kind 255", data(func(h *wire.Header) { h.Kind = 255 }), lim, "kind"},
		{"flag bit 6", data(func(h *wire.Header) { h.Flags = 64 }), lim, "flags"},
		{"trace flag on REPLY", reply(func(h *wire.Header) { h.Flags = wire.FlagTrace }), lim, "flags"},
		{"hops flag on REPLY", reply(func(h *wire.Header) { h.Flags = wire.FlagHops }), lim, "flags"},
		{"status over a depth on DATA", data(func(h *wire.Header) { h.Status = wire.MaxDepth + 1 }), lim, "status"},
		{"DIRECTORY with a name", dir(func(h *wire.Header) { h.NameLen = 1 }), lim, "name_len"},
		{"DIRECTORY over limit", dir(func(h *wire.Header) { h.PayloadLen = wire.MaxDirectoryPayload + 1 }), lim, "payload_len"},
		{"DIRECTORY with a status", dir(func(h *wire.Header) { h.Status = 1 }), lim, "status"},
		{"DIRECTORY with a crc", dir(func(h *wire.Header) { h.CRC = 1 }), lim, "crc32c"},
		{"HOPS over limit", dir(func(h *wire.Header) { h.Kind = wire.KindHops; h.PayloadLen = wire.MaxHopsPayload + 1 }), lim, "payload_len"},
		{"close flag on DATA", data(func(h *wire.Header) { h.Flags = wire.FlagClose }), lim, "flags"},
		{"close flag on REPLY", reply(func(h *wire.Header) { h.Flags = wire.FlagClose }), lim, "flags"},
		{"reply flag on ACK", ack(func(h *wire.Header) { h.Flags = wire.FlagReply }), lim, "flags"},
		{"REPLY with a name", reply(func(h *wire.Header) { h.NameLen = 1 }), lim, "name_len"},
		{"REPLY over limit", reply(func(h *wire.Header) { h.PayloadLen = 1<<20 + 1 }), lim, "payload_len"},
		{"REPLY 4 GiB", reply(func(h *wire.Header) { h.PayloadLen = 1 << 32 }), wire.Limits{MaxPayload: 1 << 40}, "payload_len"},
		{"REPLY with a crc flag", reply(func(h *wire.Header) { h.Flags = wire.FlagCRC }), lim, "flags"},
		{"REPLY with a crc", reply(func(h *wire.Header) { h.CRC = 5 }), lim, "crc32c"},
		{"REPLY with a status", reply(func(h *wire.Header) { h.Status = -1 }), lim, "status"},
		{"flag bit 7", data(func(h *wire.Header) { h.Flags = 0x81 }), lim, "flags"},
		{"crc flag on ACK", ack(func(h *wire.Header) { h.Flags = wire.FlagCRC }), lim, "flags"},
		{"crc flag on HELLO", hello(func(h *wire.Header) { h.Flags = wire.FlagCRC }), lim, "flags"},
		{"empty name", data(func(h *wire.Header) { h.NameLen = 0 }), lim, "name_len"},
		{"name over MaxName", data(func(h *wire.Header) { h.NameLen = 17 }), lim, "name_len"},
		{"name over default", data(func(h *wire.Header) { h.NameLen = wire.MaxNameLen + 1 }), wire.Limits{}, "name_len"},
		{"name max u16", data(func(h *wire.Header) { h.NameLen = math.MaxUint16 }), wire.Limits{MaxName: 1 << 20, MaxPayload: 10}, "payload_len"}, // MaxName above u16 lets any name_len through to the next check
		{"payload over limit", data(func(h *wire.Header) { h.PayloadLen = 1<<20 + 1 }), lim, "payload_len"},
		{"payload over default", data(func(h *wire.Header) { h.PayloadLen = wire.DefaultMaxPayload + 1 }), wire.Limits{}, "payload_len"},
		{"payload 4 GiB", data(func(h *wire.Header) { h.PayloadLen = 1 << 32 }), wire.Limits{MaxPayload: 1 << 40}, "payload_len"},
		{"payload max u64", data(func(h *wire.Header) { h.PayloadLen = math.MaxUint64 }), wire.Limits{MaxPayload: math.MaxUint64}, "payload_len"},
		{"crc without flag", data(func(h *wire.Header) { h.CRC = 1 }), lim, "crc32c"},
		{"status on DATA", data(func(h *wire.Header) { h.Status = -1 }), lim, "status"},
		{"ACK with a name", ack(func(h *wire.Header) { h.NameLen = 1 }), lim, "name_len"},
		{"ACK with a payload", ack(func(h *wire.Header) { h.PayloadLen = 1 }), lim, "payload_len"},
		{"ACK with a crc", ack(func(h *wire.Header) { h.CRC = 5 }), lim, "crc32c"},
		{"ACK status 1", ack(func(h *wire.Header) { h.Status = 1 }), lim, "status"},
		{"ACK status -13", ack(func(h *wire.Header) { h.Status = -13 }), lim, "status"},
		{"HELLO with a name", hello(func(h *wire.Header) { h.NameLen = 1 }), lim, "name_len"},
		{"HELLO payload too long", hello(func(h *wire.Header) { h.PayloadLen = wire.MaxHelloPayload + 1 }), lim, "payload_len"},
		{"HELLO with a crc", hello(func(h *wire.Header) { h.CRC = 5 }), lim, "crc32c"},
		{"HELLO with a status", hello(func(h *wire.Header) { h.Status = -1 }), lim, "status"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := wire.ParseHeader(tc.b, tc.lim)
			if !errors.Is(err, wire.ErrBadFrame) {
				t.Fatalf("err = %v, want ErrBadFrame", err)
			}
			if f := field(err); f != tc.field {
				t.Fatalf("field = %q (%v), want %q", f, err, tc.field)
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("%v claims truncation", err)
			}
			if !strings.HasPrefix(err.Error(), "bad frame: "+tc.field+": ") {
				t.Fatalf("message %q", err)
			}
			// The streaming reader agrees.
			var buf [wire.HeaderSize]byte
			_, err2 := wire.ReadHeader(bytes.NewReader(tc.b), &buf, tc.lim)
			if err2 != err {
				t.Fatalf("ReadHeader: %v, ParseHeader: %v", err2, err)
			}
		})
	}
}

// TestParseHeaderOrder: with several fields wrong, the first in the
// documented order is reported.
func TestParseHeaderOrder(t *testing.T) {
	h := wire.Header{Kind: wire.KindAck, Flags: 0xff, NameLen: 9, PayloadLen: 9, CRC: 9, Status: 9}
	order := []struct {
		field string
		fix   func(*wire.Header)
	}{
		{"flags", func(h *wire.Header) { h.Flags = 0 }},
		{"name_len", func(h *wire.Header) { h.NameLen = 0 }},
		{"payload_len", func(h *wire.Header) { h.PayloadLen = 0 }},
		{"crc32c", func(h *wire.Header) { h.CRC = 0 }},
		{"status", func(h *wire.Header) { h.Status = 0 }},
	}
	b := encode(h)
	b[0] = 'X'
	if _, err := wire.ParseHeader(b, wire.Limits{}); field(err) != "magic" {
		t.Fatalf("all wrong: %v, want magic first", err)
	}
	bad := h
	bad.Kind = 0
	if _, err := wire.ParseHeader(encode(bad), wire.Limits{}); field(err) != "kind" {
		t.Fatalf("kind and the rest wrong: %v, want kind", err)
	}
	for _, o := range order {
		_, err := wire.ParseHeader(encode(h), wire.Limits{})
		if field(err) != o.field {
			t.Fatalf("%+v: %v, want %s", h, err, o.field)
		}
		o.fix(&h)
	}
	if _, err := wire.ParseHeader(encode(h), wire.Limits{}); err != nil {
		t.Fatalf("all fixed: %v", err)
	}
}

// TestParseHeaderDecodedOnError: after a field error the decoded header is
// returned for logging.
func TestParseHeaderDecodedOnError(t *testing.T) {
	h := wire.Header{Kind: wire.KindData, NameLen: 3, PayloadLen: 1 << 31, ID: 77}
	got, err := wire.ParseHeader(encode(h), wire.Limits{})
	if field(err) != "payload_len" || got != h {
		t.Fatalf("got %+v, %v", got, err)
	}
}

func TestLimitsDefaults(t *testing.T) {
	ok := wire.Header{Kind: wire.KindData, NameLen: wire.MaxNameLen, PayloadLen: wire.DefaultMaxPayload}
	for _, lim := range []wire.Limits{{}, {MaxName: -1}} {
		if _, err := wire.ParseHeader(encode(ok), lim); err != nil {
			t.Fatalf("%+v: %v", lim, err)
		}
	}
	big := wire.Header{Kind: wire.KindData, NameLen: 1, PayloadLen: wire.MaxPayloadLimit - 1}
	if _, err := wire.ParseHeader(encode(big), wire.Limits{MaxPayload: math.MaxUint64}); err != nil {
		t.Fatalf("4 GiB - 1 with a huge limit: %v", err)
	}
}

func TestParseHeaderTruncated(t *testing.T) {
	full := encode(wire.Header{Kind: wire.KindData, NameLen: 1, PayloadLen: 1})
	for n := 0; n < wire.HeaderSize; n++ {
		_, err := wire.ParseHeader(full[:n], wire.Limits{})
		if !errors.Is(err, wire.ErrBadFrame) || !errors.Is(err, io.ErrUnexpectedEOF) || field(err) != "header" {
			t.Fatalf("ParseHeader of %d bytes: %v", n, err)
		}
		var buf [wire.HeaderSize]byte
		_, err = wire.ReadHeader(iotest.OneByteReader(bytes.NewReader(full[:n])), &buf, wire.Limits{})
		if n == 0 {
			if err != io.EOF {
				t.Fatalf("ReadHeader of nothing: %v, want io.EOF", err)
			}
			continue
		}
		if !errors.Is(err, wire.ErrBadFrame) || !errors.Is(err, io.ErrUnexpectedEOF) || field(err) != "header" {
			t.Fatalf("ReadHeader of %d bytes: %v", n, err)
		}
	}
}

func TestReadHeaderReaderError(t *testing.T) {
	boom := errors.New("boom")
	var buf [wire.HeaderSize]byte
	_, err := wire.ReadHeader(iotest.ErrReader(boom), &buf, wire.Limits{})
	if !errors.Is(err, boom) || errors.Is(err, wire.ErrBadFrame) {
		t.Fatalf("err = %v", err)
	}
	full := encode(wire.Header{Kind: wire.KindData, NameLen: 1})
	_, err = wire.ReadHeader(iotest.DataErrReader(io.MultiReader(bytes.NewReader(full[:10]), iotest.ErrReader(boom))), &buf, wire.Limits{})
	if !errors.Is(err, boom) {
		t.Fatalf("err after 10 bytes = %v", err)
	}
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`) // node/config.go's rule

func TestValidName(t *testing.T) {
	for c := 0; c < 256; c++ {
		for _, b := range [][]byte{{byte(c)}, {'a', byte(c)}, {byte(c), 'z'}} {
			if got, want := wire.ValidName(b), nameRE.Match(b); got != want {
				t.Fatalf("ValidName(%q) = %v, regexp says %v", b, got, want)
			}
		}
	}
	for _, s := range []string{"", "a", "producer", "a.b_c-D9", strings.Repeat("x", 64), strings.Repeat("x", 65),
		"a b", "a/b", "a\n", "\na", "é", "a\x00", "..", "-"} {
		if got, want := wire.ValidName([]byte(s)), nameRE.MatchString(s); got != want {
			t.Errorf("ValidName(%q) = %v, regexp says %v", s, got, want)
		}
	}
}

func frame(h wire.Header, name, payload []byte) []byte {
	b := wire.AppendHeader(nil, &h)
	b = append(b, name...)
	return append(b, payload...)
}

func dataHeader(name string, payload []byte, crc bool) wire.Header {
	h := wire.Header{Kind: wire.KindData, NameLen: uint16(len(name)), PayloadLen: uint64(len(payload)), ID: 5}
	if crc {
		h.Flags = wire.FlagCRC
		h.CRC = wire.Checksum(payload)
	}
	return h
}

func TestReadFrame(t *testing.T) {
	payload := make([]byte, 600<<10+13) // more than one CRC chunk, not a multiple of it
	for i := range payload {
		payload[i] = byte(i*7 + i>>9)
	}
	for _, crc := range []bool{false, true} {
		for _, size := range []int{0, 1, 4096, len(payload)} {
			p := payload[:size]
			h := dataHeader("consumer", p, crc)
			b := frame(h, []byte("consumer"), p)
			for _, r := range []io.Reader{bytes.NewReader(b), iotest.HalfReader(bytes.NewReader(b))} {
				var buf [wire.HeaderSize]byte
				got, err := wire.ReadHeader(r, &buf, wire.Limits{})
				if err != nil || got != h {
					t.Fatalf("header: %+v, %v", got, err)
				}
				var nameBuf [wire.MaxNameLen]byte
				name, err := wire.ReadName(r, got, nameBuf[:0])
				if err != nil || string(name) != "consumer" || &name[0] != &nameBuf[0] || cap(name) != len(name) {
					t.Fatalf("name: %q, %v", name, err)
				}
				dst := make([]byte, got.PayloadLen)
				if err := wire.ReadPayload(r, got, dst); err != nil || !bytes.Equal(dst, p) {
					t.Fatalf("payload of %d (crc %v): %v", size, crc, err)
				}
				if _, err := wire.ReadHeader(r, &buf, wire.Limits{}); err != io.EOF {
					t.Fatalf("after the frame: %v, want io.EOF", err)
				}
			}
		}
	}
}

func TestReadNameErrors(t *testing.T) {
	h := wire.Header{Kind: wire.KindData, NameLen: 4}
	for _, tc := range []struct {
		in    string
		trunc bool
	}{
		{"", true}, {"ab", true}, {"a b!", false}, {"ab/c", false}, {"\x00\x00\x00\x00", false},
	} {
		name, err := wire.ReadName(strings.NewReader(tc.in), h, nil)
		if name != nil || !errors.Is(err, wire.ErrBadFrame) || field(err) != "name" || errors.Is(err, io.ErrUnexpectedEOF) != tc.trunc {
			t.Errorf("ReadName(%q) = %q, %v", tc.in, name, err)
		}
	}
	// A dst too small is replaced, not overrun.
	small := make([]byte, 0, 2)
	name, err := wire.ReadName(strings.NewReader("abcd"), h, small)
	if err != nil || string(name) != "abcd" || string(small[:2]) != "\x00\x00" {
		t.Fatalf("small dst: %q, %v", name, err)
	}
	// A frame without a name reads nothing.
	name, err = wire.ReadName(strings.NewReader("abcd"), wire.NewAck(1, 0), nil)
	if err != nil || len(name) != 0 {
		t.Fatalf("ACK: %q, %v", name, err)
	}
}

func TestReadPayloadErrors(t *testing.T) {
	p := []byte("some payload bytes")
	h := dataHeader("x", p, true)

	// Truncated, with and without CRC.
	for _, crc := range []bool{false, true} {
		h := dataHeader("x", p, crc)
		for n := 0; n < len(p); n++ {
			err := wire.ReadPayload(bytes.NewReader(p[:n]), h, make([]byte, len(p)))
			if !errors.Is(err, wire.ErrBadFrame) || !errors.Is(err, io.ErrUnexpectedEOF) || field(err) != "payload" {
				t.Fatalf("%d of %d bytes (crc %v): %v", n, len(p), crc, err)
			}
		}
	}
	// Every single bit flipped is caught.
	for i := range len(p) * 8 {
		q := slices.Clone(p)
		q[i/8] ^= 1 << (i % 8)
		err := wire.ReadPayload(bytes.NewReader(q), h, make([]byte, len(p)))
		if !errors.Is(err, wire.ErrBadFrame) || field(err) != "payload" || errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("bit %d flipped: %v", i, err)
		}
	}
	// Without the flag, nothing is checked.
	plain := dataHeader("x", p, false)
	if err := wire.ReadPayload(bytes.NewReader([]byte("SOME PAYLOAD BYTES")), plain, make([]byte, len(p))); err != nil {
		t.Fatalf("no crc: %v", err)
	}
	// A view of the wrong length is the caller's mistake, not the peer's.
	err := wire.ReadPayload(bytes.NewReader(p), h, make([]byte, len(p)-1))
	if err == nil || errors.Is(err, wire.ErrBadFrame) {
		t.Fatalf("short view: %v", err)
	}
	// A reader's own error is wrapped and is not a bad frame.
	boom := errors.New("boom")
	err = wire.ReadPayload(iotest.ErrReader(boom), h, make([]byte, len(p)))
	if !errors.Is(err, boom) || errors.Is(err, wire.ErrBadFrame) {
		t.Fatalf("reader error: %v", err)
	}
}

func TestFrameError(t *testing.T) {
	_, err := wire.ParseHeader(make([]byte, 32), wire.Limits{})
	var fe *wire.FrameError
	if !errors.As(err, &fe) || fe.Field != "magic" || !errors.Is(err, wire.ErrBadFrame) {
		t.Fatalf("%v", err)
	}
	if got := err.Error(); got != `bad frame: magic: not "RRF1"` {
		t.Fatalf("Error() = %q", got)
	}
	_, err = wire.ParseHeader(nil, wire.Limits{})
	if got := err.Error(); got != "bad frame: header: truncated: unexpected EOF" {
		t.Fatalf("Error() = %q", got)
	}
	custom := &wire.FrameError{Field: "x", Reason: "y"}
	if !errors.Is(custom, wire.ErrBadFrame) || errors.Is(custom, io.EOF) {
		t.Fatal("FrameError.Is")
	}
}

func TestFrameAllocs(t *testing.T) {
	h := wire.Header{Kind: wire.KindData, Flags: wire.FlagCRC, NameLen: 8, PayloadLen: 64, ID: 1}
	payload := make([]byte, 64)
	h.CRC = wire.Checksum(payload)
	var hb [wire.HeaderSize]byte
	h.Put(hb[:])
	garbage := bytes.Repeat([]byte{0xee}, wire.HeaderSize)
	stream := frame(h, []byte("consumer"), payload)
	r := bytes.NewReader(stream)
	var buf [wire.HeaderSize]byte
	var nameBuf [wire.MaxNameLen]byte
	dst := make([]byte, 64)
	appendBuf := make([]byte, 0, wire.HeaderSize)
	var sink uint64
	badName := []byte("cons/mer")
	bad := h
	bad.CRC++

	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"Put", func() { h.Put(hb[:]) }},
		{"AppendHeader", func() { appendBuf = wire.AppendHeader(appendBuf[:0], &h) }},
		{"ParseHeader", func() {
			g, err := wire.ParseHeader(hb[:], wire.Limits{})
			if err != nil {
				panic(err)
			}
			sink += g.ID
		}},
		{"ParseHeader garbage", func() {
			if _, err := wire.ParseHeader(garbage, wire.Limits{}); err == nil {
				panic("accepted garbage")
			}
		}},
		{"ParseHeader over limit", func() {
			if _, err := wire.ParseHeader(hb[:], wire.Limits{MaxPayload: 1}); err == nil {
				panic("accepted")
			}
		}},
		{"ReadHeader+ReadName+ReadPayload", func() {
			r.Reset(stream)
			g, err := wire.ReadHeader(r, &buf, wire.Limits{})
			if err != nil {
				panic(err)
			}
			if _, err := wire.ReadName(r, g, nameBuf[:0]); err != nil {
				panic(err)
			}
			if err := wire.ReadPayload(r, g, dst); err != nil {
				panic(err)
			}
		}},
		{"ReadName bad name", func() {
			r.Reset(badName)
			if _, err := wire.ReadName(r, h, nameBuf[:0]); err == nil {
				panic("accepted")
			}
		}},
		{"ReadPayload crc mismatch", func() {
			r.Reset(stream[wire.HeaderSize+8:])
			if err := wire.ReadPayload(r, bad, dst); err == nil {
				panic("accepted")
			}
		}},
		{"ReadPayload truncated", func() {
			r.Reset(stream[wire.HeaderSize+8 : len(stream)-1])
			if err := wire.ReadPayload(r, h, dst); err == nil {
				panic("accepted")
			}
		}},
		{"Checksum", func() { sink += uint64(wire.Checksum(payload)) }},
		{"ValidName", func() {
			if !wire.ValidName(stream[wire.HeaderSize : wire.HeaderSize+8]) {
				panic("invalid")
			}
		}},
	} {
		if a := testing.AllocsPerRun(100, tc.f); a != 0 {
			t.Errorf("%s: %v allocations, want 0", tc.name, a)
		}
	}
	_ = sink
}

func BenchmarkParseHeader(b *testing.B) {
	h := wire.Header{Kind: wire.KindData, NameLen: 8, PayloadLen: 1 << 20, ID: 1}
	buf := encode(h)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := wire.ParseHeader(buf, wire.Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}
