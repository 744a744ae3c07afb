//go:build linux

package transport_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/roadrunner-wasm/roadrunner/internal/shmem"
	"github.com/roadrunner-wasm/roadrunner/transport"
	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

// shmSink is a SharedSink over one memfd standing in for a function's
// memory: payloads land at a fixed offset (at) of the file, one at a time.
type shmSink struct {
	f   *os.File
	mem []byte

	mu        sync.Mutex
	at        uint64 // where the next payload's view begins
	want      []byte // what the next payload must be; nil: anything
	notShared bool
	handled   atomic.Int64
	fills     atomic.Int64
	mech      transport.Mechanism
	bad       atomic.Int64 // payloads that were not what they should be
}

func newShmSink(t testing.TB, size int64) *shmSink {
	t.Helper()
	f, err := shmem.Create("test", size)
	if err != nil {
		t.Fatal(err)
	}
	mem, err := shmem.Map(int(f.Fd()), size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shmem.Unmap(mem); f.Close() })
	return &shmSink{f: f, mem: mem, at: 4096}
}

func (s *shmSink) Deliver(ctx context.Context, from *transport.Origin, to string, n uint64, fill func([]byte) error) error {
	if to != "fn" {
		return errNoFunction
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.at+n > uint64(len(s.mem)) {
		return errTooLarge
	}
	view := s.mem[s.at : s.at+n : s.at+n]
	s.fills.Add(1)
	if err := fill(view); err != nil {
		return err
	}
	s.handled.Add(1)
	s.mech = from.Mechanism
	if s.want != nil && !bytes.Equal(view, s.want) {
		s.bad.Add(1)
		return errHandler
	}
	return nil
}

// expect sets what the next payloads must be (a copy of want).
func (s *shmSink) expect(want []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.want = append(s.want[:0], want...)
}

// place sets where the next payloads' views begin.
func (s *shmSink) place(at uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.at = at
}

// lastMech is what carried the last payload into its view.
func (s *shmSink) lastMech() transport.Mechanism {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mech
}

func (s *shmSink) SharedMemory(to string) (transport.SharedMemory, error) {
	if s.notShared {
		return nil, fmt.Errorf("function %s: %w", to, transport.ErrNotShared)
	}
	return s, nil
}

func (s *shmSink) File() *os.File { return s.f }

func (s *shmSink) Offset(v []byte) (uint64, bool) { return shmem.Offset(s.mem, v) }

// shmPair starts a unix server with the shm path on over sk and a peer
// asking for it, both with auth (unless noAuth).
func shmPair(t *testing.T, sk transport.Sink, noAuth bool, dial func(*transport.DialOptions)) (*transport.Peer, *fallbacks, *fallbacks, *server) {
	t.Helper()
	key := newKey()
	so := &transport.ServerOptions{SharedMemory: true, Limits: wire.Limits{MaxPayload: 1 << 30}}
	do := &transport.DialOptions{SharedMemory: true}
	if !noAuth {
		so.Auth, do.Auth = newAuth(t, "recv", 0, key), newAuth(t, "send", 0, key)
	}
	sf, df := &fallbacks{}, &fallbacks{}
	so.OnFallback, do.OnFallback = sf.on, df.on
	if dial != nil {
		dial(do)
	}
	srv := startServer(t, transport.PathUnix, sk, so)
	return newPeer(t, srv.addr, do), sf, df, srv
}

func TestShmSizes(t *testing.T) {
	sk := newShmSink(t, 300<<20)
	p, sf, df, _ := shmPair(t, sk, false, nil)
	ctx := context.Background()
	sizes := []int{0, 1, 4095, transport.DefaultSharedMin - 1, transport.DefaultSharedMin, 1<<20 + 7, 64 << 20, 256 << 20}
	if raceEnabled {
		// The race detector checks every byte a loop touches: the large
		// sizes take minutes under it, and add nothing the small ones do
		// not race.
		sizes = sizes[:6]
	}
	for _, n := range sizes {
		payload := pattern(n, uint64(n))
		sk.expect(payload)
		sent, err := p.Send(ctx, "fn", payload, nil)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		sends, receives := transport.MechanismWritev, transport.MechanismRead
		if n >= transport.DefaultSharedMin {
			sends, receives = transport.MechanismShm, transport.MechanismShm
		}
		if got := sk.lastMech(); sent.Mechanism != sends || got != receives {
			t.Fatalf("%d bytes: sent by %s, received by %s; want %s, %s", n, sent.Mechanism, got, sends, receives)
		}
		clear(payload) // the sender reuses its buffer at once
	}
	if sk.bad.Load() != 0 {
		t.Fatalf("%d payloads corrupted", sk.bad.Load())
	}
	if s := df.String() + sf.String(); s != "" {
		t.Fatalf("fallbacks reported: %s", s)
	}
}

// TestShmMixed: 1000 transfers of mixed sizes, the sender overwriting its
// buffer as soon as each send returns, the receiver's buffer moving.
func TestShmMixed(t *testing.T) {
	sk := newShmSink(t, 64<<20)
	p, _, df, _ := shmPair(t, sk, false, func(o *transport.DialOptions) { o.SharedMin = 1 })
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 8<<20)
	base := pattern(8<<20+4096, 7)
	shm, empty := 0, 0
	for i := range 1000 {
		n := rng.IntN(1 << (1 + rng.IntN(23)))
		payload := buf[:n]
		copy(payload, base[i%4096:])
		sk.expect(payload)
		sk.place(uint64(rng.IntN(32<<20)) + 1) // odd offsets too
		sent, err := p.Send(context.Background(), "fn", payload, nil)
		if err != nil {
			t.Fatalf("transfer %d, %d bytes: %v", i, n, err)
		}
		switch {
		case sent.Mechanism == transport.MechanismShm:
			shm++
		case n == 0:
			empty++
		}
		clear(payload)
	}
	if sk.bad.Load() != 0 || sk.handled.Load() != 1000 {
		t.Fatalf("%d of %d payloads corrupted", sk.bad.Load(), sk.handled.Load())
	}
	if shm+empty != 1000 {
		t.Fatalf("%d of %d non-empty transfers took the shm path; fallbacks: %s", shm, 1000-empty, df)
	}
}

func TestShmFallbacks(t *testing.T) {
	const n = 1 << 20
	send := func(t *testing.T, p *transport.Peer, sk *shmSink) transport.Sent {
		t.Helper()
		payload := pattern(n, 9)
		sk.expect(payload)
		sent, err := p.Send(context.Background(), "fn", payload, nil)
		if err != nil {
			t.Fatal(err)
		}
		if sk.bad.Load() != 0 {
			t.Fatal("payload corrupted")
		}
		return sent
	}
	t.Run("unauthenticated", func(t *testing.T) {
		sk := newShmSink(t, 8<<20)
		p, _, df, _ := shmPair(t, sk, true, nil)
		if m := send(t, p, sk).Mechanism; m != transport.MechanismWritev {
			t.Fatalf("sent by %s", m)
		}
		if df.get("shm/plain/unauthenticated") != 1 {
			t.Fatalf("fallbacks: %s", df)
		}
	})
	t.Run("listener without it", func(t *testing.T) {
		sk := newShmSink(t, 8<<20)
		key := newKey()
		srv := startServer(t, transport.PathUnix, sk, &transport.ServerOptions{Auth: newAuth(t, "r", 0, key)})
		df := &fallbacks{}
		p := newPeer(t, srv.addr, &transport.DialOptions{SharedMemory: true, Auth: newAuth(t, "s", 0, key), OnFallback: df.on})
		send(t, p, sk)
		if df.get("shm/plain/peer") != 1 {
			t.Fatalf("fallbacks: %s", df)
		}
	})
	t.Run("not shared", func(t *testing.T) {
		sk := newShmSink(t, 8<<20)
		sk.notShared = true
		p, sf, df, _ := shmPair(t, sk, false, nil)
		for range 3 {
			if m := send(t, p, sk).Mechanism; m != transport.MechanismWritev {
				t.Fatalf("sent by %s", m)
			}
		}
		// The receiver said so once; the sender remembers for the
		// connection and reports every transfer.
		if df.get("shm/plain/not_shared") != 3 || sf.get("shm/plain/not_shared") != 1 {
			t.Fatalf("sender's fallbacks: %s; receiver's: %s", df, sf)
		}
	})
	t.Run("tcp", func(t *testing.T) {
		sk := newShmSink(t, 8<<20)
		key := newKey()
		srv := startServer(t, transport.PathTCP, sk, &transport.ServerOptions{Auth: newAuth(t, "r", 0, key), SharedMemory: true})
		df := &fallbacks{}
		p := newPeer(t, srv.addr, &transport.DialOptions{SharedMemory: true, Auth: newAuth(t, "s", 0, key), OnFallback: df.on})
		send(t, p, sk)
		if df.get("shm/plain/tcp") != 1 {
			t.Fatalf("fallbacks: %s", df)
		}
	})
	t.Run("unsealed file", func(t *testing.T) {
		// A receiver hands over a memfd it could shrink: the sender
		// refuses it before mapping and sends over the stream.
		sk := newShmSink(t, 8<<20)
		p, _, df, _ := shmPair(t, sk, false, nil)
		unsealed, err := unix.MemfdCreate("unsealed", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(unsealed)
		unix.Ftruncate(unsealed, 8<<20)
		restore := transport.SetShmOfferHook(func(o *wire.ShmOffer, fd *int) {
			if *fd >= 0 {
				*fd = unsealed
			}
		})
		defer restore()
		for range 2 {
			if m := send(t, p, sk).Mechanism; m != transport.MechanismWritev {
				t.Fatalf("sent by %s", m)
			}
		}
		if df.get("shm/plain/seals") != 2 {
			t.Fatalf("fallbacks: %s", df)
		}
	})
}

// heapSink delivers into the Go heap while claiming a shared file: every
// view lies outside it.
type heapSink struct{ inner *shmSink }

func (h *heapSink) Deliver(ctx context.Context, from *transport.Origin, to string, n uint64, fill func([]byte) error) error {
	buf := make([]byte, n)
	if err := fill(buf); err != nil {
		return err
	}
	h.inner.mu.Lock()
	defer h.inner.mu.Unlock()
	if w := h.inner.want; w != nil && !bytes.Equal(buf, w) {
		h.inner.bad.Add(1)
	}
	h.inner.mech = from.Mechanism
	return nil
}

func (h *heapSink) SharedMemory(string) (transport.SharedMemory, error) { return h.inner, nil }

func TestShmOutside(t *testing.T) {
	sk := newShmSink(t, 8<<20)
	p, sf, df, _ := shmPair(t, &heapSink{inner: sk}, false, nil)
	payload := pattern(1<<20, 3)
	sk.expect(payload)
	if _, err := p.Send(context.Background(), "fn", payload, nil); err != nil {
		t.Fatal(err)
	}
	if m := sk.lastMech(); sk.bad.Load() != 0 || m != transport.MechanismRead {
		t.Fatalf("bad %d, received by %s", sk.bad.Load(), m)
	}
	if df.get("shm/plain/outside") != 1 || sf.get("shm/plain/outside") != 1 {
		t.Fatalf("fallbacks: %s / %s", df, sf)
	}
}

// TestShmHostileOffer: a receiver's offer that places the payload past its
// file, or names a file never handed over, fails the send with a bad frame
// before the sender touches anything, and its connection closes.
func TestShmHostileOffer(t *testing.T) {
	for name, mod := range map[string]func(o *wire.ShmOffer, fd *int){
		"past the file": func(o *wire.ShmOffer, fd *int) { o.Offset = o.Size - 10 },
		"unknown file":  func(o *wire.ShmOffer, fd *int) { o.New, o.Size, o.File, *fd = false, 0, 5, -1 },
		"no descriptor": func(o *wire.ShmOffer, fd *int) { *fd = -1 },
	} {
		t.Run(name, func(t *testing.T) {
			sk := newShmSink(t, 8<<20)
			p, _, _, srv := shmPair(t, sk, false, nil)
			restore := transport.SetShmOfferHook(mod)
			defer restore()
			_, err := p.Send(context.Background(), "fn", pattern(1<<20, 1), nil)
			if !errors.Is(err, wire.ErrBadFrame) {
				t.Fatalf("send: %v, want a bad frame", err)
			}
			restore()
			if sk.handled.Load() != 0 {
				t.Fatal("the handler ran")
			}
			waitFor(t, func() bool { return srv.refusals(transport.RefusedTruncated)+srv.refusals(transport.RefusedIO) > 0 }, "the receiver to close the connection")
			// A new connection works.
			payload := pattern(1<<20, 2)
			sk.expect(payload)
			if sent, err := p.Send(context.Background(), "fn", payload, nil); err != nil || sent.Mechanism != transport.MechanismShm || sk.bad.Load() != 0 {
				t.Fatalf("after: %v, %s", err, sent.Mechanism)
			}
		})
	}
}

func TestShmSealed(t *testing.T) {
	sk := newShmSink(t, 8<<20)
	// What the sender receives is this file: shrinking it is refused.
	if err := unix.Ftruncate(int(sk.f.Fd()), 4096); !errors.Is(err, unix.EPERM) {
		t.Fatalf("shrink: %v, want EPERM", err)
	}
}

// shmChildEnv makes this test binary, run as a child, one end of a
// transfer that its parent kills halfway: "recv DIR KEY" serves a shmSink
// on DIR/rr.sock and prints "ready"; "send ADDR KEY" sends 256 MiB over
// the shm path and prints "half" halfway through the copy, then waits.
const shmChildEnv = "RR_TEST_SHM_CHILD"

func init() {
	if v := os.Getenv(shmChildEnv); v != "" {
		os.Exit(shmChild(strings.Fields(v)))
	}
}

func shmChild(args []string) int {
	kb, _ := hex.DecodeString(args[2])
	key := [transport.KeySize]byte(kb)
	ks, _ := transport.NewKeys(key)
	auth, _ := transport.NewAuth(ks, "child", 0)
	switch args[0] {
	case "recv":
		f, _ := shmem.Create("child", 300<<20)
		mem, _ := shmem.Map(int(f.Fd()), 300<<20)
		sk := &shmSink{f: f, mem: mem, at: 4096}
		ln, err := transport.ListenUnix(filepath.Join(args[1], "rr.sock"), 0, -1)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		srv := transport.NewServer(sk, transport.PathUnix, &transport.ServerOptions{Auth: auth, SharedMemory: true, Limits: wire.Limits{MaxPayload: 1 << 30}})
		fmt.Println("ready")
		srv.Serve(ln)
	case "send":
		transport.SetShmCopyHook(func() {
			fmt.Println("half")
			select {}
		})
		p, _ := transport.NewPeer(args[1], &transport.DialOptions{Auth: auth, SharedMemory: true})
		_, err := p.Send(context.Background(), "fn", make([]byte, 256<<20), nil)
		fmt.Fprintln(os.Stderr, "send returned:", err)
	}
	return 1
}

func startShmChild(t *testing.T, args ...string) (*exec.Cmd, *bufio.Reader) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), shmChildEnv+"="+strings.Join(args, " "))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, bufio.NewReader(out)
}

func expectLine(t *testing.T, r *bufio.Reader, want string) {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil || strings.TrimSpace(line) != want {
		t.Fatalf("child said %q, %v; want %q", line, err, want)
	}
}

// TestShmSenderKilled: the sender dies halfway through its copy; the
// receiver's handler never runs, nothing half-written is delivered, and
// the receiver goes on serving.
func TestShmSenderKilled(t *testing.T) {
	key := newKey()
	sk := newShmSink(t, 300<<20)
	srv := startServer(t, transport.PathUnix, sk, &transport.ServerOptions{Auth: newAuth(t, "recv", 0, key), SharedMemory: true, Limits: wire.Limits{MaxPayload: 1 << 30}})
	cmd, out := startShmChild(t, "send", srv.addr, hex.EncodeToString(key[:]))
	expectLine(t, out, "half")
	if sk.fills.Load() != 1 {
		t.Fatalf("%d fills in progress, want 1", sk.fills.Load())
	}
	cmd.Process.Kill()
	cmd.Wait()
	waitFor(t, func() bool { return srv.refusals(transport.RefusedTruncated)+srv.refusals(transport.RefusedIO) > 0 }, "the receiver to see the sender gone")
	if sk.handled.Load() != 0 {
		t.Fatal("a payload whose sender died mid-copy reached the handler")
	}
	p := newPeer(t, srv.addr, &transport.DialOptions{Auth: newAuth(t, "again", 0, key), SharedMemory: true})
	payload := pattern(1<<20, 5)
	sk.expect(payload)
	if sent, err := p.Send(context.Background(), "fn", payload, nil); err != nil || sent.Mechanism != transport.MechanismShm || sk.bad.Load() != 0 {
		t.Fatalf("the next sender: %v, %s, %d bad", err, sent.Mechanism, sk.bad.Load())
	}
}

// TestShmReceiverKilled: the receiver dies halfway through the sender's
// copy; the sender's mapping stays valid (no SIGBUS: the file lives while
// mapped), the copy finishes, and the send fails with the connection.
func TestShmReceiverKilled(t *testing.T) {
	key := newKey()
	dir := t.TempDir()
	cmd, out := startShmChild(t, "recv", dir, hex.EncodeToString(key[:]))
	expectLine(t, out, "ready")
	killed := make(chan struct{})
	restore := transport.SetShmCopyHook(func() {
		cmd.Process.Kill()
		cmd.Wait()
		close(killed)
	})
	defer restore()
	p := newPeer(t, "unix://"+filepath.Join(dir, "rr.sock"), &transport.DialOptions{Auth: newAuth(t, "send", 0, key), SharedMemory: true})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := p.Send(ctx, "fn", make([]byte, 256<<20), nil)
	select {
	case <-killed:
	default:
		t.Fatalf("the copy never reached its half: %v", err)
	}
	if !errors.Is(err, transport.ErrConnClosed) {
		t.Fatalf("send: %v, want the connection closed", err)
	}
}
