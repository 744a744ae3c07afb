package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/internal/bench/payload"
)

// startReceiver runs a receiver role in this process, over pipes as the
// driver would, and returns its address; it ends at cleanup.
func startReceiver(t *testing.T, role string, args ...string) string {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- RunAgent(context.Background(), role, args, nil, inR, outW) }()
	t.Cleanup(func() {
		inW.Close()
		if err := <-done; err != nil {
			t.Errorf("%s: %v", role, err)
		}
	})
	line, err := bufio.NewReader(outR).ReadBytes('\n')
	if err != nil {
		t.Fatal(err)
	}
	var m struct{ Addr string }
	if err := json.Unmarshal(line, &m); err != nil || m.Addr == "" {
		t.Fatalf("%s said %q", role, line)
	}
	go io.Copy(io.Discard, outR)
	return m.Addr
}

func newSender(t *testing.T) *sender {
	s := &sender{opts: &AgentOptions{}, pairs: map[int]*senderPair{}}
	t.Cleanup(s.close)
	return s
}

func checkBatch(t *testing.T, resp agentResponse, count int) {
	t.Helper()
	if resp.Error != "" {
		t.Fatal(resp.Error)
	}
	if len(resp.LatencyNS) != count {
		t.Fatalf("%d latencies for %d transfers", len(resp.LatencyNS), count)
	}
	for _, l := range resp.LatencyNS {
		if l <= 0 {
			t.Errorf("latency %d ns", l)
		}
	}
}

func TestSocketAgents(t *testing.T) {
	for _, network := range []string{"unix", "tcp"} {
		t.Run(network, func(t *testing.T) {
			addr := "127.0.0.1:0"
			if network == "unix" {
				addr = filepath.Join(t.TempDir(), "r.sock")
			}
			addr = startReceiver(t, "socket-recv", network, addr)
			s := newSender(t)
			// 3 MiB + 5: chunks of 1 MiB and a remainder.
			for _, size := range []int64{payload.MinSize, 3<<20 + 5} {
				resp := s.handle(context.Background(), &agentRequest{Op: "socket", Size: size, Seq: uint64(size), Count: 3, Network: network, Addr: addr})
				checkBatch(t, resp, 3)
				if resp.RecvVerifyNS <= 0 {
					t.Errorf("receiver's verification took %d ns", resp.RecvVerifyNS)
				}
			}

			// A corrupt payload and a replayed one: the receiver acks
			// them as failed.
			c, err := net.Dial(network, addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			p := make([]byte, 4096)
			payload.Stamp(p, payload.Fill(p), 9)
			for i, mutate := range []func([]byte){
				func([]byte) {}, // seq 9: fine
				func([]byte) {}, // seq 9 again: a replay
				func(p []byte) { p[4000] ^= 0x10; payload.Stamp(p, binary.LittleEndian.Uint64(p[24:]), 10) },
			} {
				mutate(p)
				var hdr [8]byte
				binary.LittleEndian.PutUint64(hdr[:], uint64(len(p)))
				c.Write(hdr[:])
				c.Write(p)
				var ack [socketAck]byte
				if _, err := io.ReadFull(c, ack[:]); err != nil {
					t.Fatal(err)
				}
				if want := byte(min(i, 1)); ack[0] != want {
					t.Errorf("payload %d: ack status %d, want %d", i, ack[0], want)
				}
				payload.Stamp(p, payload.Sum(p[payload.HeaderSize:]), 9) // the receiver cleared nothing of ours
			}
		})
	}
}

// TestNativeHTTPAgents runs native-http (raw bytes) and native-http-json
// between a real sender and a real receiver over loopback HTTP, then posts
// the receiver payloads that must fail: corrupt, replayed, truncated, and
// JSON that does not decode.
func TestNativeHTTPAgents(t *testing.T) {
	addr := startReceiver(t, "http-recv")
	s := newSender(t)
	// 3 MiB + 5: not a multiple of any buffer's size.
	for _, size := range []int64{payload.MinSize, 3<<20 + 5} {
		resp := s.handle(context.Background(), &agentRequest{Op: "native-http", Size: size, Seq: uint64(size), Count: 2, URL: "http://" + addr + "/raw/0"})
		checkBatch(t, resp, 2)
		if resp.RecvVerifyNS <= 0 {
			t.Errorf("native-http at %d B: the receiver's verification took %d ns", size, resp.RecvVerifyNS)
		}
	}
	resp := s.handle(context.Background(), &agentRequest{Op: "native-http-json", Size: 1 << 20, Seq: 1, Count: 2, URL: "http://" + addr + "/j/0"})
	checkBatch(t, resp, 2)

	// Payloads that do not verify are refused, and the sender says so.
	p := make([]byte, 1024)
	sum := payload.Fill(p)
	payload.Stamp(p, sum, 5)
	raw := "http://" + addr + "/raw/7"
	if _, err := post(context.Background(), http.DefaultClient, raw, "application/octet-stream", p); err != nil {
		t.Fatalf("a good payload: %v", err)
	}
	corrupt := bytes.Clone(p)
	payload.Stamp(corrupt, sum, 6)
	corrupt[500] ^= 1
	truncated := bytes.Clone(p)
	payload.Stamp(truncated, sum, 7)
	for name, body := range map[string][]byte{"replayed": p, "corrupt": corrupt, "truncated": truncated[:1000]} {
		_, err := post(context.Background(), http.DefaultClient, raw, "application/octet-stream", body)
		if err == nil || !strings.Contains(err.Error(), "did not verify") {
			t.Errorf("%s raw payload: %v", name, err)
		}
	}
	body, _ := json.Marshal(message{Data: corrupt})
	_, err := post(context.Background(), http.DefaultClient, "http://"+addr+"/j/7", "application/json", body)
	if err == nil || !strings.Contains(err.Error(), "did not verify") {
		t.Errorf("corrupt JSON payload: %v", err)
	}
	_, err = post(context.Background(), http.DefaultClient, "http://"+addr+"/j/7", "application/json", []byte(`{"data":"not base64!"}`))
	if err == nil {
		t.Error("undecodable JSON was accepted")
	}
}

func TestMemcpyAgent(t *testing.T) {
	s := newSender(t)
	resp := s.handle(context.Background(), &agentRequest{Op: "memcpy", Size: 1 << 20, Seq: 1, Count: 4})
	checkBatch(t, resp, 4)
	if resp.SendVerifyNS <= 0 {
		t.Errorf("memcpy's verification took %d ns", resp.SendVerifyNS)
	}
}

// TestSenderProtocol drives a sender over its standard input and output,
// several requests in flight, as the driver does.
func TestSenderProtocol(t *testing.T) {
	inR, inW := io.Pipe()
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- RunAgent(context.Background(), "sender", nil, nil, inR, &out) }()
	for i := range 3 {
		line, _ := json.Marshal(agentRequest{ID: i + 1, Op: "memcpy", Pair: i, Size: 4096, Seq: 1, Count: 2})
		inW.Write(append(line, '\n'))
	}
	inW.Write([]byte(`{"id":9,"op":"teleport"}` + "\n"))
	inW.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the sender did not end when its input closed")
	}
	seen := map[int]agentResponse{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var r agentResponse
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("answer %q: %v", line, err)
		}
		seen[r.ID] = r
	}
	for i := 1; i <= 3; i++ {
		if r, ok := seen[i]; !ok || r.Error != "" || len(r.LatencyNS) != 2 {
			t.Errorf("request %d: %+v", i, r)
		}
	}
	if r := seen[9]; !strings.Contains(r.Error, "unknown op") {
		t.Errorf("unknown op answered %+v", r)
	}
}
