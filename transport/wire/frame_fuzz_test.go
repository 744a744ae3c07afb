package wire_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/roadrunner-wasm/roadrunner/abi"
	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

// The seed corpus of FuzzParseHeader is in testdata/fuzz/FuzzParseHeader:
// a valid frame of each kind and near-misses of each rule. CI runs each
// fuzzer briefly:
//
//	go test -run '^$' -fuzz '^FuzzParseHeader$' -fuzztime 10s ./transport/
//	go test -run '^$' -fuzz '^FuzzReadFrame$' -fuzztime 10s ./transport/

var fuzzLimits = []wire.Limits{{}, {MaxPayload: 1000, MaxName: 8}}

// abiCode reports whether s is a code of the ABI's table (package abi).
func abiCode(s int32) bool {
	for _, c := range abi.Codes() {
		if int32(c) == s {
			return true
		}
	}
	return false
}

// checkAccepted fails t unless h, which ParseHeader accepted under lim,
// respects lim and the rules of its kind.
func checkAccepted(t *testing.T, h wire.Header, lim wire.Limits) {
	t.Helper()
	maxPayload, maxName := lim.MaxPayload, lim.MaxName
	if maxPayload == 0 {
		maxPayload = wire.DefaultMaxPayload
	}
	if maxName <= 0 {
		maxName = wire.MaxNameLen
	}
	if h.Flags&^(wire.FlagCRC|wire.FlagReply|wire.FlagClose|wire.FlagHops|wire.FlagShm|wire.FlagTrace) != 0 {
		t.Fatalf("accepted unknown flags: %+v", h)
	}
	if h.Flags&wire.FlagCRC == 0 && h.CRC != 0 {
		t.Fatalf("accepted a crc without the flag: %+v", h)
	}
	if h.Flags&wire.FlagTrace != 0 && h.Kind != wire.KindData {
		t.Fatalf("accepted a trace context on %v: %+v", h.Kind, h)
	}
	switch h.Kind {
	case wire.KindData:
		if h.NameLen == 0 || int(h.NameLen) > maxName || h.PayloadLen > maxPayload ||
			h.PayloadLen >= wire.MaxPayloadLimit || h.Status < 0 || h.Status > wire.MaxDepth {
			t.Fatalf("accepted DATA %+v under %+v", h, lim)
		}
	case wire.KindAck:
		if h.NameLen != 0 || h.PayloadLen != 0 || h.Flags&^wire.FlagClose != 0 || !abiCode(h.Status) {
			t.Fatalf("accepted ACK %+v", h)
		}
	case wire.KindHello:
		if h.NameLen != 0 || h.PayloadLen > wire.MaxHelloPayload || h.Flags != 0 || h.Status != 0 {
			t.Fatalf("accepted HELLO %+v", h)
		}
	case wire.KindReply:
		if h.NameLen != 0 || h.PayloadLen > maxPayload || h.Flags != 0 || h.Status != 0 {
			t.Fatalf("accepted REPLY %+v", h)
		}
	case wire.KindShmOffer:
		if h.NameLen != 0 || h.PayloadLen != wire.ShmOfferSize || h.Flags != 0 || h.Status != 0 {
			t.Fatalf("accepted SHM_OFFER %+v", h)
		}
	case wire.KindShmDone:
		copied := h.Status == wire.ShmCopied && h.PayloadLen == 0 && h.Flags == 0
		stream := h.Status == wire.ShmStream && h.PayloadLen <= maxPayload && h.Flags&^wire.FlagCRC == 0
		if h.NameLen != 0 || !copied && !stream {
			t.Fatalf("accepted SHM_DONE %+v under %+v", h, lim)
		}
	case wire.KindDirectory, wire.KindHops:
		limit := uint64(wire.MaxDirectoryPayload)
		if h.Kind == wire.KindHops {
			limit = wire.MaxHopsPayload
		}
		if h.NameLen != 0 || h.PayloadLen > limit || h.Flags != 0 || h.Status != 0 {
			t.Fatalf("accepted %v %+v", h.Kind, h)
		}
	default:
		t.Fatalf("accepted kind %v", h.Kind)
	}
}

func checkRefused(t *testing.T, b []byte, err error) {
	t.Helper()
	var fe *wire.FrameError
	if !errors.As(err, &fe) || !errors.Is(err, wire.ErrBadFrame) {
		t.Fatalf("refused with %v (%T), want a *FrameError", err, err)
	}
	if truncated := len(b) < wire.HeaderSize; truncated != errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("%d bytes refused with %v", len(b), err)
	}
}

func FuzzParseHeader(f *testing.F) {
	f.Add(encode(wire.Header{Kind: wire.KindData, NameLen: 8, PayloadLen: 1 << 20, ID: 1}))
	f.Add(encode(wire.NewAck(1, -5)))
	f.Add(encode(wire.Header{Kind: wire.KindData, Flags: wire.FlagShm, NameLen: 8, PayloadLen: 1 << 20, ID: 1}))
	f.Add(encode(wire.Header{Kind: wire.KindShmOffer, PayloadLen: wire.ShmOfferSize, ID: 1}))
	f.Add(encode(wire.Header{Kind: wire.KindShmDone, Status: wire.ShmStream, PayloadLen: 1 << 20, ID: 1}))
	f.Add(encode(wire.Header{Kind: wire.KindData, Flags: wire.FlagTrace | wire.FlagHops, NameLen: 8, PayloadLen: 1 << 20, ID: 1}))
	f.Add(encode(wire.Header{Kind: wire.KindAck, Flags: wire.FlagTrace, ID: 1}))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, lim := range fuzzLimits {
			h, err := wire.ParseHeader(b, lim)
			if err != nil {
				checkRefused(t, b, err)
				continue
			}
			if got := encode(h); !bytes.Equal(got, b[:wire.HeaderSize]) {
				t.Fatalf("re-encoded % x\n       from % x", got, b[:wire.HeaderSize])
			}
			if err := h.Validate(lim); err != nil {
				t.Fatalf("parsed %+v but Validate says %v", h, err)
			}
			checkAccepted(t, h, lim)
		}
		// fuzzLimits[1] is tighter than the defaults in every way.
		_, errDefault := wire.ParseHeader(b, fuzzLimits[0])
		_, errTight := wire.ParseHeader(b, fuzzLimits[1])
		if errTight == nil && errDefault != nil {
			t.Fatalf("accepted under tight limits, refused under the defaults: %v", errDefault)
		}
	})
}

// readResult is what reading one stream frame by frame gave.
type readResult struct {
	rebuilt []byte // the frames read, encoded again
	frames  int
	err     error // what ended the stream: io.EOF or a refusal
}

func readFrames(t *testing.T, r io.Reader, lim wire.Limits) readResult {
	t.Helper()
	var (
		res      readResult
		buf      [wire.HeaderSize]byte
		nameBuf  [wire.MaxNameLen]byte
		traceBuf [wire.TraceContextSize]byte
	)
	for {
		h, err := wire.ReadHeader(r, &buf, lim)
		if err != nil {
			res.err = err
			return res
		}
		checkAccepted(t, h, lim)
		name, err := wire.ReadName(r, h, nameBuf[:0])
		if err != nil {
			res.err = err
			return res
		}
		if h.Kind == wire.KindData && !wire.ValidName(name) {
			t.Fatalf("ReadName accepted %q", name)
		}
		if len(name) != int(h.NameLen) {
			t.Fatalf("name of %d bytes for name_len %d", len(name), h.NameLen)
		}
		tc, err := wire.ReadTraceContext(r, h, &traceBuf)
		if err != nil {
			res.err = err
			return res
		}
		if h.Flags&wire.FlagTrace != 0 && !tc.Valid() || h.Flags&wire.FlagTrace == 0 && tc != (wire.TraceContext{}) {
			t.Fatalf("ReadTraceContext accepted %+v for flags %#x", tc, h.Flags)
		}
		payload := make([]byte, h.PayloadLen) // bounded: lim.MaxPayload is small
		if err := wire.ReadPayload(r, h, payload); err != nil {
			res.err = err
			return res
		}
		if h.Flags&wire.FlagCRC != 0 && wire.Checksum(payload) != h.CRC {
			t.Fatalf("ReadPayload accepted a payload whose crc differs")
		}
		res.rebuilt = append(wire.AppendHeader(res.rebuilt, &h), name...)
		if h.Flags&wire.FlagTrace != 0 {
			var b [wire.TraceContextSize]byte
			tc.Put(b[:])
			res.rebuilt = append(res.rebuilt, b[:]...)
		}
		res.rebuilt = append(res.rebuilt, payload...)
		res.frames++
	}
}

func FuzzReadFrame(f *testing.F) {
	p := []byte("123456789")
	data := frame(dataHeader("consumer", p, false), []byte("consumer"), p)
	crc := frame(dataHeader("c.1_-", p, true), []byte("c.1_-"), p)
	ack := frame(wire.NewAck(5, -3), nil, nil)
	hello := frame(wire.Header{Kind: wire.KindHello, PayloadLen: 4}, nil, []byte("ping"))
	traced := traceFrame(dataHeader("consumer", p, true), []byte("consumer"), testTrace, p)
	f.Add(data)
	f.Add(crc)
	f.Add(traced)
	f.Add(bytes.Join([][]byte{traced, ack, data}, nil))
	f.Add(traced[:wire.HeaderSize+8+wire.TraceContextSize-1])
	f.Add(ack)
	f.Add(hello)
	f.Add(bytes.Join([][]byte{data, ack, crc, hello}, nil))
	f.Add(data[:len(data)-1])
	f.Add(append(bytes.Clone(crc[:len(crc)-1]), '0'))
	f.Fuzz(func(t *testing.T, b []byte) {
		lim := wire.Limits{MaxPayload: 4096}
		whole := readFrames(t, bytes.NewReader(b), lim)
		if whole.err == io.EOF {
			if !bytes.Equal(whole.rebuilt, b) {
				t.Fatalf("read to the end, but the frames re-encode to % x\nnot % x", whole.rebuilt, b)
			}
		} else {
			var fe *wire.FrameError
			if !errors.As(whole.err, &fe) || !errors.Is(whole.err, wire.ErrBadFrame) {
				t.Fatalf("stream refused with %v (%T), want a *FrameError", whole.err, whole.err)
			}
		}
		if !bytes.HasPrefix(b, whole.rebuilt) {
			t.Fatalf("frames read re-encode to % x\nnot a prefix of % x", whole.rebuilt, b)
		}
		// Byte by byte, the reader sees the same frames and the same end.
		bytewise := readFrames(t, iotest.OneByteReader(bytes.NewReader(b)), lim)
		if bytewise.frames != whole.frames || bytewise.err != whole.err {
			t.Fatalf("byte by byte: %d frames then %v; whole: %d frames then %v",
				bytewise.frames, bytewise.err, whole.frames, whole.err)
		}
	})
}

// TestSeedCorpus keeps the committed seeds honest: each file named miss_*
// is refused and every other one is accepted under the default limits.
func TestSeedCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzParseHeader")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) == 0 {
		t.Fatal("no seeds")
	}
	for _, e := range ents {
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
		if len(lines) != 2 || lines[0] != "go test fuzz v1" ||
			!strings.HasPrefix(lines[1], "[]byte(") || !strings.HasSuffix(lines[1], ")") {
			t.Fatalf("%s: not a go test fuzz v1 file with one []byte", e.Name())
		}
		s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		_, err = wire.ParseHeader([]byte(s), wire.Limits{})
		if miss := strings.HasPrefix(e.Name(), "miss_"); miss != (err != nil) {
			t.Errorf("%s: ParseHeader says %v", e.Name(), err)
		}
	}
}
