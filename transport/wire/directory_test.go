package wire_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

func testDirectory() wire.Directory {
	d := wire.Directory{
		Name:       "node-1.a_b",
		Instance:   [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		Host:       [16]byte{0xaa, 15: 0xbb},
		HasHost:    true,
		Unix:       "/var/run/rrnode/sockets/node-1.sock",
		Generation: 1<<40 + 7,
		Functions:  []string{"producer", "transform", "x"},
	}
	return d
}

func TestDirectoryRoundTrip(t *testing.T) {
	for _, d := range []wire.Directory{
		testDirectory(),
		{Name: "n", Functions: []string{}},
	} {
		b := d.Append(nil)
		got, err := wire.ParseDirectory(b)
		if err != nil {
			t.Fatalf("ParseDirectory(%x): %v", b, err)
		}
		if !reflect.DeepEqual(got, d) {
			t.Errorf("round trip: got %+v, want %+v", got, d)
		}
	}
	// The most functions fit the limit.
	d := wire.Directory{Name: "n"}
	for i := range wire.MaxDirectoryFunctions {
		d.Functions = append(d.Functions, fmt.Sprintf("%064d", i))
	}
	b := d.Append(nil)
	if len(b) > wire.MaxDirectoryPayload {
		t.Fatalf("a directory of %d functions of %d bytes is %d bytes, over MaxDirectoryPayload", wire.MaxDirectoryFunctions, wire.MaxNameLen, len(b))
	}
	if got, err := wire.ParseDirectory(b); err != nil || len(got.Functions) != wire.MaxDirectoryFunctions {
		t.Fatalf("ParseDirectory of the largest directory: %d functions, %v", len(got.Functions), err)
	}
}

// TestParseDirectoryInvalid: every malformed payload is a bad frame that
// says what is wrong.
func TestParseDirectoryInvalid(t *testing.T) {
	good := testDirectory()
	enc := func(f func(d *wire.Directory)) []byte {
		d := testDirectory()
		d.Functions = append([]string(nil), d.Functions...)
		f(&d)
		return d.Append(nil)
	}
	goodBytes := good.Append(nil)
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "cut short"},
		{"version", append([]byte{2}, goodBytes[1:]...), "version 2, want 1"},
		{"has_host 2", func() []byte { b := append([]byte(nil), goodBytes...); b[17] = 2; return b }(), "has_host"},
		{"name empty", enc(func(d *wire.Directory) { d.Name = "" }), "name is not a valid name"},
		{"name bytes", enc(func(d *wire.Directory) { d.Name = "a b" }), "name is not a valid name"},
		{"unix relative", enc(func(d *wire.Directory) { d.Unix = "run/a.sock" }), "unix is not an absolute path"},
		{"unix long", enc(func(d *wire.Directory) { d.Unix = "/" + strings.Repeat("a", 107) }), "unix is not an absolute path"},
		{"unix control byte", enc(func(d *wire.Directory) { d.Unix = "/a\nb" }), "unix is not an absolute path"},
		{"function bytes", enc(func(d *wire.Directory) { d.Functions[1] = "a/b" }), "function name is not a valid name"},
		{"function twice", enc(func(d *wire.Directory) { d.Functions[2] = "producer" }), `function "producer" twice`},
		{"left over", append(append([]byte(nil), goodBytes...), 0), "1 bytes left over"},
		{"count over", func() []byte {
			b := enc(func(d *wire.Directory) { d.Functions = nil })
			binary.LittleEndian.PutUint16(b[len(b)-2:], wire.MaxDirectoryFunctions+1)
			return b
		}(), "1025 functions, over 1024"},
		{"count past the end", func() []byte {
			b := enc(func(d *wire.Directory) { d.Functions = []string{"a"} })
			binary.LittleEndian.PutUint16(b[len(b)-4:], 2)
			return b
		}(), "cut short"},
		{"over the limit", make([]byte, wire.MaxDirectoryPayload+1), "over the limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := wire.ParseDirectory(tc.b)
			if !errors.Is(err, wire.ErrBadFrame) {
				t.Fatalf("err = %v, want a bad frame", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want it to say %q", err, tc.want)
			}
		})
	}
	// Every truncation of a good payload is refused, none panics.
	for i := range len(goodBytes) {
		if _, err := wire.ParseDirectory(goodBytes[:i]); !errors.Is(err, wire.ErrBadFrame) {
			t.Fatalf("payload cut to %d bytes: err = %v, want a bad frame", i, err)
		}
	}
}

// FuzzParseDirectory: ParseDirectory never panics, and what it accepts
// encodes back to the same bytes.
func FuzzParseDirectory(f *testing.F) {
	d := testDirectory()
	f.Add(d.Append(nil))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := wire.ParseDirectory(b)
		if err != nil {
			if !errors.Is(err, wire.ErrBadFrame) {
				t.Fatalf("error %v is not a bad frame", err)
			}
			return
		}
		again := d.Append(nil)
		if !d.HasHost {
			// Without a host, any 16 host bytes are accepted, and
			// encoded back as zero.
			clear(b[18:34])
		}
		if string(again) != string(b) {
			t.Fatalf("%x parsed as %+v encodes to %x", b, d, again)
		}
	})
}
