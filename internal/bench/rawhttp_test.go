package bench

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/abi"
	"github.com/roadrunner-wasm/roadrunner/internal/bench/payload"
	"github.com/roadrunner-wasm/roadrunner/internal/wasmbuild"
	"github.com/roadrunner-wasm/roadrunner/node"
)

// TestHTTPRaw is the http-raw path with real guests and real hosts: the
// sender's rawsrc posts through its host's HTTP client to a raw-recv
// receiver whose rawsink reads the body through body_read and verifies it.
// Then the receiver is posted payloads that must fail.
func TestHTTPRaw(t *testing.T) {
	addr := startReceiver(t, "raw-recv", wasmbuild.ForTest(t, examples+"rawsink"), node.CacheOff)
	s := newSender(t)
	src := wasmbuild.ForTest(t, examples+"rawsrc")
	// 3 MiB + 5: many chunks of 64 KiB and a remainder; then smaller
	// again, into the buffers the larger one grew.
	for i, size := range []int64{payload.MinSize, 3<<20 + 5, 100000} {
		resp := s.handle(context.Background(), &agentRequest{Op: "raw-wasm", Size: size, Seq: uint64(i+1) * 10, Count: 3,
			URL: "http://" + addr + "/raw/0", Module: src, CacheDir: node.CacheOff})
		checkBatch(t, resp, 3)
		if resp.RecvVerifyNS <= 0 {
			t.Errorf("size %d: rawsink's verification took %d ns", size, resp.RecvVerifyNS)
		}
	}
	// pair 0's rawsink refuses a payload it has seen.
	resp := s.handle(context.Background(), &agentRequest{Op: "raw-wasm", Size: 4096, Seq: 31, Count: 1,
		URL: "http://" + addr + "/raw/0", Module: src, CacheDir: node.CacheOff})
	if !strings.Contains(resp.Error, "the receiver did not verify the payload: seq 31 after seq 32") {
		t.Errorf("a replayed sequence number: %q", resp.Error)
	}

	// Payloads posted by hand to another pair: one good, then each bad one
	// must fail with rawsink's reason.
	raw := "http://" + addr + "/raw/7"
	p := make([]byte, 200000)
	sum := payload.Fill(p)
	payload.Stamp(p, sum, 5)
	if _, err := post(context.Background(), http.DefaultClient, raw, "application/octet-stream", p); err != nil {
		t.Fatalf("a good payload: %v", err)
	}
	corrupt := bytes.Clone(p)
	payload.Stamp(corrupt, sum, 6)
	corrupt[150000] ^= 1
	truncated := bytes.Clone(p)
	payload.Stamp(truncated, sum, 7)
	for name, c := range map[string]struct {
		body []byte
		want string
	}{
		"replayed":  {p, "seq 5 after seq 5"},
		"corrupt":   {corrupt, "payload corrupt: seq 6: body sum"},
		"truncated": {truncated[:199999], "payload corrupt: seq 7: 199999 bytes arrived, header says 200000"},
	} {
		_, err := post(context.Background(), http.DefaultClient, raw, "application/octet-stream", c.body)
		if err == nil || !strings.Contains(err.Error(), "the receiver did not verify the payload: "+c.want) {
			t.Errorf("%s payload: %v; want it to say %q", name, err, c.want)
		}
	}
	// A body without a length is refused before any guest sees it.
	req, _ := http.NewRequest(http.MethodPost, raw, io.MultiReader(bytes.NewReader(p)))
	req.ContentLength = -1
	if hresp, err := http.DefaultClient.Do(req); err != nil || hresp.StatusCode != http.StatusLengthRequired {
		t.Errorf("chunked body: %v %v", hresp, err)
	} else {
		hresp.Body.Close()
	}
}

// wasmModule assembles a module that imports the given "rawhttp"
// functions (each (i32, i32) -> i32), has one page of memory, and exports
// memory and one function, export, of type params -> i32, whose body is
// code (locals: none; code ends the body).
func wasmModule(imports []string, export string, params []byte, code []byte) []byte {
	const i32 = 0x7f
	vec := func(items ...[]byte) []byte {
		out := uleb(uint64(len(items)))
		for _, it := range items {
			out = append(out, it...)
		}
		return out
	}
	name := func(s string) []byte { return append(uleb(uint64(len(s))), s...) }
	section := func(id byte, body []byte) []byte {
		return append(append([]byte{id}, uleb(uint64(len(body)))...), body...)
	}
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

	types := vec(
		[]byte{0x60, 2, i32, i32, 1, i32},
		cat([]byte{0x60}, uleb(uint64(len(params))), params, []byte{1, i32}),
	)
	var imps [][]byte
	for _, im := range imports {
		imps = append(imps, cat(name(rawImports), name(im), []byte{0x00, 0}))
	}
	fn := uleb(uint64(len(imports)))
	body := cat([]byte{0}, code, []byte{0x0b})
	return cat(
		[]byte("\x00asm\x01\x00\x00\x00"),
		section(1, types),
		section(2, vec(imps...)),
		section(3, vec([]byte{1})),
		section(5, vec([]byte{0x00, 1})),
		section(7, vec(cat(name("memory"), []byte{0x02, 0}), cat(name(export), []byte{0x00}, fn))),
		section(10, vec(cat(uleb(uint64(len(body))), body))),
	)
}

func uleb(v uint64) []byte {
	var out []byte
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(out, b)
		}
		out = append(out, b|0x80)
	}
}

func sleb(v int64) []byte {
	var out []byte
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && b&0x40 == 0) || (v == -1 && b&0x40 != 0) {
			return append(out, b)
		}
		out = append(out, b|0x80)
	}
}

// callImport is code that calls import 0 with (ptr, len) and leaves its
// result.
func callImport(ptr, n int64) []byte {
	return bytes.Join([][]byte{{0x41}, sleb(ptr), {0x41}, sleb(n), {0x10, 0}}, nil)
}

func writeModule(t *testing.T, m []byte) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "m.wasm")
	if err := os.WriteFile(file, m, 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestRawHostBoundsChecks runs guests that hand http-raw's hosts (ptr,
// len) pairs outside their one page of memory (64 KiB), or overflowing:
// every host function answers abi.BadPointer, reads or writes nothing, and
// the host keeps serving.
func TestRawHostBoundsChecks(t *testing.T) {
	bad := [][2]int64{{65520, 100}, {65536, 1}, {-16, 32}, {0, 65537}, {-1, -1}}

	// The receiving host: body_read and respond.
	for _, imp := range []string{"body_read", "respond"} {
		for _, b := range bad {
			m := wasmModule([]string{imp}, "raw_handle", []byte{0x7f}, callImport(b[0], b[1]))
			addr := startReceiver(t, "raw-recv", writeModule(t, m), node.CacheOff)
			for range 2 { // the host serves on after the first
				_, err := post(context.Background(), http.DefaultClient, "http://"+addr+"/raw/0", "application/octet-stream", make([]byte, 1000))
				if err == nil || !strings.Contains(err.Error(), "raw_handle returned -1 (bad pointer)") {
					t.Errorf("%s(%d, %d): %v", imp, b[0], b[1], err)
				}
			}
		}
	}

	// The sending host: post. Out of bounds, nothing is sent; in bounds,
	// the page's zeros are posted whole, and the receiver refuses them.
	addr := startReceiver(t, "http-recv")
	client := &http.Client{}
	for _, b := range append(bad, [2]int64{65536 - 4096, 4096}) {
		m := wasmModule([]string{"post"}, "raw_send", []byte{0x7f, 0x7e}, callImport(b[0], b[1]))
		e, err := newRawEngine(writeModule(t, m), node.CacheOff)
		if err != nil {
			t.Fatal(err)
		}
		src, err := newRawSource(context.Background(), e, client)
		if err != nil {
			t.Fatal(err)
		}
		src.url = "http://" + addr + "/raw/0"
		_, err = src.transfer(context.Background(), 4096, 1)
		if b[1] == 4096 {
			if err == nil || !strings.Contains(err.Error(), "payload corrupt: bad magic") {
				t.Errorf("post(%d, %d): %v; want the receiver's refusal", b[0], b[1], err)
			}
		} else if !errors.Is(err, abi.BadPointer) {
			t.Errorf("post(%d, %d): %v; want bad pointer", b[0], b[1], err)
		}
		src.close()
		e.close()
	}
}

// TestGuestBody: a request body lent from guest memory gives at most
// rawChunk bytes a read, and nothing once its lease is revoked.
func TestGuestBody(t *testing.T) {
	view := make([]byte, 3*rawChunk)
	l := &memLease{view: view}
	b := &guestBody{l: l}
	buf := make([]byte, 4*rawChunk)
	if n, err := b.Read(buf); n != rawChunk || err != nil {
		t.Errorf("first read: %d, %v; want %d", n, err, rawChunk)
	}
	l.revoke()
	if n, err := b.Read(buf); n != 0 || !errors.Is(err, errLeaseRevoked) {
		t.Errorf("read after revoke: %d, %v", n, err)
	}
}
