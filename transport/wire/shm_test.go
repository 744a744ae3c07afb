package wire_test

import (
	"errors"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

func TestShmOffer(t *testing.T) {
	good := []wire.ShmOffer{
		{Action: wire.ShmReady, New: true, File: 0, Size: 1 << 30, Offset: 1<<30 - 100},
		{Action: wire.ShmReady, File: 3, Offset: 12345},
		{Action: wire.ShmToRead, Reason: wire.ShmReasonNotShared},
		{Action: wire.ShmToRead, Reason: wire.ShmReasonOutside},
	}
	for _, o := range good {
		var b [wire.ShmOfferSize]byte
		o.Put(b[:])
		got, err := wire.ParseShmOffer(b[:], 100)
		if err != nil || got != o {
			t.Errorf("%+v: got %+v, %v", o, got, err)
		}
	}
	bad := map[string]wire.ShmOffer{
		"past the file":       {Action: wire.ShmReady, New: true, Size: 4096, Offset: 4000},
		"larger than file":    {Action: wire.ShmReady, New: true, Size: 50, Offset: 0},
		"wrapping":            {Action: wire.ShmReady, File: 1, Offset: ^uint64(0) - 10},
		"new without size":    {Action: wire.ShmReady, New: true},
		"size without new":    {Action: wire.ShmReady, Size: 1 << 20},
		"ready with a reason": {Action: wire.ShmReady, Reason: 1, New: true, Size: 1 << 20},
		"read with a file":    {Action: wire.ShmToRead, Reason: 1, File: 2},
		"read with an offset": {Action: wire.ShmToRead, Reason: 1, Offset: 2},
		"read without reason": {Action: wire.ShmToRead},
		"read unknown reason": {Action: wire.ShmToRead, Reason: 200},
		"no action":           {},
		"unknown action":      {Action: 9},
	}
	for name, o := range bad {
		var b [wire.ShmOfferSize]byte
		o.Put(b[:])
		if _, err := wire.ParseShmOffer(b[:], 100); !errors.Is(err, wire.ErrBadFrame) {
			t.Errorf("%s: %v, want a bad frame", name, err)
		}
	}
	var b [wire.ShmOfferSize]byte
	(&wire.ShmOffer{Action: wire.ShmReady, File: 1}).Put(b[:])
	b[3] = 1
	if _, err := wire.ParseShmOffer(b[:], 1); !errors.Is(err, wire.ErrBadFrame) {
		t.Errorf("reserved byte set: %v", err)
	}
	if _, err := wire.ParseShmOffer(b[:10], 1); !errors.Is(err, wire.ErrBadFrame) {
		t.Errorf("short: %v", err)
	}
}

func TestShmHeaders(t *testing.T) {
	lim := wire.Limits{}
	ok := []wire.Header{
		{Kind: wire.KindData, Flags: wire.FlagShm, NameLen: 1, PayloadLen: 1 << 20, ID: 1},
		{Kind: wire.KindShmOffer, PayloadLen: wire.ShmOfferSize, ID: 1},
		{Kind: wire.KindShmDone, ID: 1, Status: wire.ShmCopied},
		{Kind: wire.KindShmDone, ID: 1, Status: wire.ShmStream, PayloadLen: 1 << 20, Flags: wire.FlagCRC, CRC: 7},
	}
	for _, h := range ok {
		if err := h.Validate(lim); err != nil {
			t.Errorf("%+v: %v", h, err)
		}
	}
	bad := []wire.Header{
		{Kind: wire.KindAck, Flags: wire.FlagShm, ID: 1},
		{Kind: wire.KindShmOffer, PayloadLen: 23, ID: 1},
		{Kind: wire.KindShmOffer, PayloadLen: wire.ShmOfferSize, Status: 1},
		{Kind: wire.KindShmOffer, PayloadLen: wire.ShmOfferSize, NameLen: 1},
		{Kind: wire.KindShmDone, Status: wire.ShmCopied, PayloadLen: 1},
		{Kind: wire.KindShmDone, Status: wire.ShmCopied, Flags: wire.FlagCRC},
		{Kind: wire.KindShmDone, Status: 2},
		{Kind: wire.KindShmDone, Status: wire.ShmStream, PayloadLen: 1 << 32},
	}
	for _, h := range bad {
		if err := h.Validate(lim); !errors.Is(err, wire.ErrBadFrame) {
			t.Errorf("%+v: %v, want a bad frame", h, err)
		}
	}
	var hello wire.Hello
	hello.Shm = true
	got, err := wire.ParseHello(hello.Append(nil))
	if err != nil || !got.Shm {
		t.Fatalf("HELLO shm round trip: %+v, %v", got, err)
	}
	if _, err := wire.ParseHello([]byte{wire.HelloShm, 1, 2}); !errors.Is(err, wire.ErrBadFrame) {
		t.Fatalf("HELLO shm 2: %v", err)
	}
}

// FuzzParseShmOffer: an offer the parser accepts re-encodes to its bytes,
// and a ready offer never places the payload where its end wraps, nor past
// a new file's size.
func FuzzParseShmOffer(f *testing.F) {
	for _, o := range []wire.ShmOffer{
		{Action: wire.ShmReady, New: true, Size: 1 << 30, Offset: 4096},
		{Action: wire.ShmReady, File: 2, Offset: 1 << 40},
		{Action: wire.ShmToRead, Reason: wire.ShmReasonOutside},
	} {
		var b [wire.ShmOfferSize]byte
		o.Put(b[:])
		f.Add(b[:], uint64(1<<20))
	}
	f.Fuzz(func(t *testing.T, b []byte, n uint64) {
		o, err := wire.ParseShmOffer(b, n)
		if err != nil {
			if !errors.Is(err, wire.ErrBadFrame) {
				t.Fatalf("refused with %v, want a bad frame", err)
			}
			return
		}
		var again [wire.ShmOfferSize]byte
		o.Put(again[:])
		if string(again[:]) != string(b) {
			t.Fatalf("%+v re-encodes to % x, not % x", o, again, b)
		}
		if o.Action == wire.ShmReady && (o.Offset+n < o.Offset || o.New && o.Offset+n > o.Size) {
			t.Fatalf("accepted %+v for %d bytes", o, n)
		}
	})
}
