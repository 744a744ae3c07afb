package transport_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/bpf"
	"github.com/roadrunner-wasm/roadrunner/internal/netns"
	"github.com/roadrunner-wasm/roadrunner/internal/shmem"
	"github.com/roadrunner-wasm/roadrunner/internal/testcerts"
	"github.com/roadrunner-wasm/roadrunner/transport"
	"github.com/roadrunner-wasm/roadrunner/transport/features"
	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

// BenchmarkPaths measures the unix and tcp paths side by side with a plain
// Go socket loop over the same kind of socket carrying the same bytes
// (issue 3, "Measure"; docs/BENCHMARKS.md has the results):
//
//	go test -run '^$' -bench Paths -count 5 ./transport/
//
// One op is one transfer: a Peer.Send of the payload to a Server and its
// ACK, or, for socket-unix and socket-tcp, an 8-byte length and the payload
// written with conn.Write, read with io.ReadFull and answered with one
// byte the sender waits for. Receivers read into one buffer reused across
// transfers (a stand-in for a guest's memory, which the transport knows
// nothing of), so the numbers are the transport's, not page faults'.
// Listening, dialing, the first transfers (and auto's sampling) and the
// network namespaces are set up before the timed loop.
//
// Besides throughput, each case reports CPU per transfer: sender-ns/op is
// the CPU of the sending goroutine, locked to its thread
// (CLOCK_THREAD_CPUTIME_ID); total-ns/op is the whole process's
// (CLOCK_PROCESS_CPUTIME_ID); receiver-ns/op is the difference: the
// receiving goroutine, the runtime's scheduler and netpoller. Both clocks
// count softirqs that run on a thread of the process, which on loopback and
// veth is most of the receiving TCP stack, charged to the sender;
// ksoftirqd-ns/op is the softirq work deferred to ksoftirqd, which no
// clock of the process counts.
//
// Locking the sender to its thread has a price: each time the sender blocks
// (on the ACK, on a full socket buffer) and wakes up, the runtime hands it
// from the thread that found it runnable to its own, a futex wake-up of
// another thread, which on an idle VM costs tens of microseconds. With
// -paths.unlocked the sender is not locked, as in a node: throughput and
// total-ns/op are then the realistic ones, and there is no split.
//
//	go test -run '^$' -bench Paths ./transport/ -paths.unlocked
//
// loopback runs unix, socket-unix, tcp-{write,splice,auto} and socket-tcp
// over 127.0.0.1; veth runs the tcp cases between two network namespaces
// joined by a veth pair (198.18.0.1 to 198.18.0.2), and needs root. The
// -sockmap cases (root) put both ends' sockets in a sockmap of their own
// (--accel sockmap); socket-tcp-sockmap is the plain loop so redirected.
// p50-ns and p99-ns are the median and 99th percentile of the transfers'
// times (the first 65536 of the timed loop).
func BenchmarkPaths(b *testing.B) {
	b.Run("loopback", func(b *testing.B) {
		dir := b.TempDir()
		env := &pathsEnv{
			listen: func(network string) (net.Listener, error) {
				if network == "unix" {
					return nil, nil // each case listens on its own socket file
				}
				return net.Listen("tcp", "127.0.0.1:0")
			},
			onSender: func(fn func() error) error { return fn() },
			dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, addr)
			},
			dir: dir,
		}
		runPathCases(b, env, []pathsCase{
			{name: "socket-unix", network: "unix", plain: true},
			{name: "unix", network: "unix"},
			{name: "socket-tcp", network: "tcp", plain: true},
			{name: "tcp-write", network: "tcp", mech: transport.MechanismWrite},
			{name: "tcp-splice", network: "tcp", mech: transport.MechanismSplice},
			{name: "tcp-auto", network: "tcp", mech: transport.MechanismAuto},
			{name: "unix-iouring", network: "unix", ring: true},
			{name: "tcp-iouring", network: "tcp", ring: true},
			{name: "tcp-iouring-zc", network: "tcp", ring: true, zc: true},
			{name: "tcp-iouring-send", network: "tcp", ring: true, plainRecv: true},
			{name: "tcp-iouring-recv", network: "tcp", plainSend: true, ringRecv: true},
			{name: "tcp-sockmap", network: "tcp", mech: transport.MechanismWrite, sockmap: true},
			{name: "unix-auth", network: "unix", auth: true},
			{name: "unix-shm", network: "unix", auth: true, shm: true},
			{name: "tcp-write-auth", network: "tcp", mech: transport.MechanismWrite, auth: true},
			{name: "tcp-tls", network: "tcp", tls: true},
			{name: "tcp-tls-auth", network: "tcp", tls: true, auth: true},
		})
	})
	b.Run("veth", func(b *testing.B) {
		// ForTest skips without root (fails with RR_REQUIRE_PRIVILEGED=1).
		a, z := netns.ForTest(b, "bench-snd"), netns.ForTest(b, "bench-rcv")
		if err := netns.Veth(a, "198.18.0.1/24", z, "198.18.0.2/24"); err != nil {
			b.Fatal(err)
		}
		env := &pathsEnv{
			// The receiver's sockets live in z: accepted sockets are
			// made in the listener's namespace.
			listen: func(string) (net.Listener, error) { return z.Listen("tcp", "198.18.0.2:0") },
			// The sender's sockets are made in a: a Peer dials on the
			// goroutine that calls Send, so the first Send runs on a
			// thread inside a. The timed loop then runs anywhere: a
			// socket stays in the namespace it was made in.
			onSender: a.Do,
			dial:     a.DialContext,
		}
		runPathCases(b, env, []pathsCase{
			{name: "socket-tcp", network: "tcp", plain: true},
			{name: "tcp-write", network: "tcp", mech: transport.MechanismWrite},
			{name: "tcp-splice", network: "tcp", mech: transport.MechanismSplice},
			{name: "tcp-auto", network: "tcp", mech: transport.MechanismAuto},
			{name: "tcp-iouring", network: "tcp", ring: true},
			{name: "tcp-iouring-zc", network: "tcp", ring: true, zc: true},
			{name: "socket-tcp-sockmap", network: "tcp", plain: true, sockmap: true},
			{name: "tcp-sockmap", network: "tcp", mech: transport.MechanismWrite, sockmap: true},
			{name: "tcp-iouring-sockmap", network: "tcp", ring: true, sockmap: true},
		})
	})
}

// pathsEnv is where a case's sockets are made.
type pathsEnv struct {
	// listen listens for tcp; for unix it returns nil, and the case
	// listens on a socket file under dir.
	listen func(network string) (net.Listener, error)
	// onSender runs fn where the sender's sockets must be created.
	onSender func(fn func() error) error
	// dial connects a plain socket from the sender's side.
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
	dir  string
}

type pathsCase struct {
	name    string
	network string              // "unix" or "tcp"
	mech    transport.Mechanism // the tcp mechanism of a Peer
	plain   bool                // the plain Go socket loop instead of a Peer and a Server
	ring    bool                // --accel iouring: both sides through io_uring
	zc      bool                // and SEND_ZC, kept on although loopback and veth copy
	// plainRecv: io_uring on the sender only; plainSend with ringRecv:
	// on the receiver only.
	plainRecv, plainSend, ringRecv bool
	// sockmap: both ends' sockets in a sockmap (--accel sockmap), the
	// plain loop's too.
	sockmap bool
	// auth: the connection begins with the authenticated HELLO; tls: the
	// tcp path is TLS 1.3 (and writes with plain calls).
	auth, tls bool
	// shm: the shm path at every size (with auth), into a receiver's
	// buffer that lies in a memfd.
	shm bool
}

// benchSecurity is the Auth and TLS of case c for each side, nil where c
// has none.
func benchSecurity(b *testing.B, c pathsCase) (dialAuth, listenAuth *transport.Auth, dialTLS, listenTLS *transport.TLS) {
	if c.auth {
		key := newKey()
		dialAuth, listenAuth = newAuth(b, "dialer", 0, key), newAuth(b, "listener", 0, key)
	}
	if c.tls {
		ca := testcerts.NewCA(b, b.TempDir(), "bench")
		dialTLS, listenTLS = loadTLS(b, ca, "dialer"), loadTLS(b, ca, "listener")
	}
	return
}

// benchSockmap opens a sockmap pinned under a directory of the
// benchmark's own, closed (and unpinned) at cleanup.
func benchSockmap(b *testing.B) *transport.Sockmap {
	if err := features.HaveSockmap(); err != nil {
		b.Skip(err)
	}
	sm := transport.OpenSockmap(&transport.SockmapOptions{PinDir: fmt.Sprintf("/sys/fs/bpf/rr-bench-%d-%d", os.Getpid(), sockmapDirs.Add(1))})
	if err := sm.Err(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sm.Close() })
	return sm
}

var (
	pathsRingChunk = flag.Int("paths.ringchunk", 0, "BenchmarkPaths: io_uring chunk bytes (0: the default)")
	pathsRingDepth = flag.Int("paths.ringdepth", 0, "BenchmarkPaths: io_uring linked requests per batch (0: the default)")
)

var pathSizes = []struct {
	name string
	n    int
}{
	{"1KiB", 1 << 10},
	{"1MiB", 1 << 20},
	{"64MiB", 64 << 20},
	{"256MiB", 256 << 20},
}

// pathsBuffers are the sender's payload and the receiver's buffer, shared
// by every case (they run one at a time) and touched once, so that no case
// pays for page faults.
var pathsBuffers = sync.OnceValues(func() (payload, recv []byte) {
	payload = pattern(256<<20, 42)
	recv = make([]byte, 256<<20)
	for i := range recv {
		recv[i] = 0xA5
	}
	return payload, recv
})

func runPathCases(b *testing.B, env *pathsEnv, cases []pathsCase) {
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for _, sz := range pathSizes {
				b.Run(sz.name, func(b *testing.B) {
					payload, recv := pathsBuffers()
					if c.shm {
						recv = pathsShared()
					}
					payload, recv = payload[:sz.n], recv[:sz.n]
					var send func() error
					if c.plain {
						send = plainLoop(b, env, c, payload, recv)
					} else {
						send = transportLoop(b, env, c, payload, recv)
					}
					measurePaths(b, sz.n, send)
					if !bytes.Equal(recv, payload) {
						b.Fatal("the receiver's buffer differs from the payload after the timed loop")
					}
				})
			}
		})
	}
}

var pathsUnlocked = flag.Bool("paths.unlocked", false, "BenchmarkPaths: leave the sender unlocked from its thread; report total CPU only")

// measurePaths runs send in the timed loop on a goroutine locked to its
// thread (unless -paths.unlocked) and reports the CPU per transfer.
func measurePaths(b *testing.B, n int, send func() error) {
	if !*pathsUnlocked {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	b.SetBytes(int64(n))
	lat := make([]time.Duration, 0, 1<<16)
	t0, p0, k0 := threadCPU(), processCPU(), ksoftirqdCPU()
	for b.Loop() {
		start := time.Now()
		if err := send(); err != nil {
			b.Fatal(err)
		}
		if len(lat) < cap(lat) {
			lat = append(lat, time.Since(start))
		}
	}
	t1, p1, k1 := threadCPU(), processCPU(), ksoftirqdCPU()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2]), "p50-ns")
		b.ReportMetric(float64(lat[len(lat)*99/100]), "p99-ns")
	}
	ops := float64(b.N)
	sender, total := float64(t1-t0)/ops, float64(p1-p0)/ops
	if !*pathsUnlocked {
		b.ReportMetric(sender, "sender-ns/op")
		b.ReportMetric(total-sender, "receiver-ns/op")
	}
	b.ReportMetric(total, "total-ns/op")
	b.ReportMetric(float64(k1-k0)/ops, "ksoftirqd-ns/op")
}

// pathsShared is the receiver's buffer of the shm case: 256 MiB of a
// memfd, mapped and touched once.
var pathsShared = sync.OnceValue(func() []byte {
	f, err := shmem.Create("bench", 256<<20)
	if err != nil {
		panic(err)
	}
	mem, err := shmem.Map(int(f.Fd()), 256<<20)
	if err != nil {
		panic(err)
	}
	sharedFile = f
	for i := range mem {
		mem[i] = 0xA5
	}
	return mem
})

var sharedFile *os.File // pathsShared's file

// benchShmSink is a benchSink whose buffer is pathsShared's file.
type benchShmSink struct{ benchSink }

func (s *benchShmSink) SharedMemory(string) (transport.SharedMemory, error) { return s, nil }
func (s *benchShmSink) File() *os.File                                      { return sharedFile }
func (s *benchShmSink) Offset(v []byte) (uint64, bool)                      { return shmem.Offset(s.buf, v) }

// benchSink delivers every payload to "fn" into one reused buffer.
type benchSink struct{ buf []byte }

func (s *benchSink) Deliver(_ context.Context, _ *transport.Origin, to string, n uint64, fill func([]byte) error) error {
	if to != "fn" {
		return errNoFunction
	}
	if n > uint64(len(s.buf)) {
		return errTooLarge
	}
	return fill(s.buf[:n])
}

// transportLoop starts a Server and a Peer for c, makes the first transfers
// (and lets auto settle), and returns one transfer.
func transportLoop(b *testing.B, env *pathsEnv, c pathsCase, payload, recv []byte) func() error {
	quiet := slog.New(slog.DiscardHandler)
	var sm *transport.Sockmap
	if c.sockmap {
		sm = benchSockmap(b)
	}
	path, err := transport.ParsePath(c.network)
	if err != nil {
		b.Fatal(err)
	}
	dialAuth, listenAuth, dialTLS, listenTLS := benchSecurity(b, c)
	var sk transport.Sink = &benchSink{buf: recv}
	if c.shm {
		sk = &benchShmSink{benchSink{buf: recv}}
	}
	srv := transport.NewServer(sk, path, &transport.ServerOptions{
		SharedMemory: c.shm,
		Auth:         listenAuth,
		TLS:          listenTLS,
		Sockmap:      sm,
		Limits:       wire.Limits{MaxPayload: 1 << 30},
		Logger:       quiet,
		IOURing:      c.ring && !c.plainRecv || c.ringRecv,
		RingMin:      1, // the ring at every size: the default leaves small payloads plain
		RingChunk:    *pathsRingChunk,
		RingDepth:    *pathsRingDepth,
		OnFallback: func(from, to, reason string) {
			b.Errorf("server fell back from %s to %s: %s", from, to, reason)
		},
	})
	ln, addr := pathsListen(b, env, c.network, true)
	serve(b, srv, ln)

	var chose transport.Mechanism
	var why string
	p, err := transport.NewPeer(addr, &transport.DialOptions{
		SharedMemory: c.shm,
		SharedMin:    1,
		Auth:         dialAuth,
		TLS:          dialTLS,
		Mechanism:    c.mech,
		Sockmap:      sm,
		IOURing:      c.ring,
		RingMin:      1,
		ZeroCopy:     c.zc,
		RingChunk:    *pathsRingChunk,
		RingDepth:    *pathsRingDepth,
		Logger:       quiet,
		OnMechanism:  func(m transport.Mechanism, w string) { chose, why = m, w },
		OnFallback: func(from, to, reason string) {
			b.Errorf("fell back from %s to %s: %s", from, to, reason)
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close() })
	if c.zc {
		transport.KeepZeroCopy(p)
	}

	ctx := context.Background()
	send := func() error {
		_, err := p.Send(ctx, "fn", payload, nil)
		return err
	}
	clear(recv)
	// The first Send dials, on the sender's side.
	if err := env.onSender(send); err != nil {
		b.Fatal(err)
	}
	// Auto samples its first 2*4 large transfers (alternating write and
	// splice) before it settles; the others make one more to reach their
	// steady state (a splice pipe is made on first use).
	for i := 0; i < 16 && (i == 0 || p.Mechanism() == transport.MechanismAuto && len(payload) >= 256<<10); i++ {
		if err := send(); err != nil {
			b.Fatal(err)
		}
	}
	if !bytes.Equal(recv, payload) {
		b.Fatal("the receiver's buffer differs from the payload")
	}
	if c.network == "tcp" && c.mech == transport.MechanismAuto {
		if why == "" {
			b.Logf("auto has not settled (payloads under 256 KiB go with write and are not sampled)")
		} else {
			b.Logf("auto chose %s: %s", chose, why)
		}
	}
	if open, _ := p.Conns(); open != 1 {
		b.Fatalf("%d connections open, want 1", open)
	}
	if sm != nil && sm.Sockets() != 2 {
		b.Fatalf("%d sockets in the sockmap, want 2", sm.Sockets())
	}
	return send
}

// pathsListen listens for a case: tcp where env says, unix on a fresh
// socket file (with transport.ListenUnix for the transport's server). It
// returns the listener and its peer address.
func pathsListen(b *testing.B, env *pathsEnv, network string, rr bool) (net.Listener, string) {
	ln, err := env.listen(network)
	if err == nil && ln == nil {
		sock := filepath.Join(env.dir, fmt.Sprintf("paths-%d.sock", pathsSocks))
		pathsSocks++
		if rr {
			ln, err = transport.ListenUnix(sock, 0, -1)
		} else {
			ln, err = net.Listen("unix", sock)
		}
	}
	if err != nil {
		b.Fatal(err)
	}
	if network == "unix" {
		return ln, "unix://" + ln.Addr().String()
	}
	return ln, "tcp://" + ln.Addr().String()
}

var pathsSocks int

// plainLoop starts the plain Go socket loop's receiver, dials it, makes a
// first transfer and returns one transfer.
func plainLoop(b *testing.B, env *pathsEnv, pc pathsCase, payload, recv []byte) func() error {
	network := pc.network
	var sm *bpf.Sockmap
	if pc.sockmap {
		if err := features.HaveSockmap(); err != nil {
			b.Skip(err)
		}
		var err error
		sm, err = bpf.Load(&bpf.Options{PinDir: fmt.Sprintf("/sys/fs/bpf/rr-bench-%d-%d", os.Getpid(), sockmapDirs.Add(1))})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { sm.CloseLast() })
	}
	ln, _ := pathsListen(b, env, network, false)
	rcvDone := make(chan error, 1)
	accepted := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		ln.Close()
		if err == nil && sm != nil {
			_, err = sm.Add(c.(*net.TCPConn))
		}
		accepted <- err
		if err != nil {
			rcvDone <- err
			return
		}
		defer c.Close()
		rcvDone <- plainReceive(c, recv)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var conn net.Conn
	err := env.onSender(func() (err error) {
		conn, err = env.dial(ctx, network, ln.Addr().String())
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		conn.Close()
		if err := <-rcvDone; err != nil && err != io.EOF {
			b.Error(err)
		}
	})
	if err := <-accepted; err != nil {
		b.Fatal(err)
	}
	if sm != nil {
		if _, err := sm.Add(conn.(*net.TCPConn)); err != nil {
			b.Fatal(err)
		}
	}
	var hdr [8]byte
	var ack [1]byte
	binary.LittleEndian.PutUint64(hdr[:], uint64(len(payload)))
	send := func() error {
		if _, err := conn.Write(hdr[:]); err != nil {
			return err
		}
		if _, err := conn.Write(payload); err != nil {
			return err
		}
		_, err := io.ReadFull(conn, ack[:])
		return err
	}
	clear(recv)
	for range 2 {
		if err := send(); err != nil {
			b.Fatal(err)
		}
	}
	if !bytes.Equal(recv, payload) {
		b.Fatal("the receiver's buffer differs from the payload")
	}
	return send
}

// plainReceive is the plain loop's receiver: a length, that many bytes into
// recv, one byte back; until the sender hangs up (io.EOF).
func plainReceive(c net.Conn, recv []byte) error {
	var hdr [8]byte
	ack := []byte{0}
	for {
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return err
		}
		n := binary.LittleEndian.Uint64(hdr[:])
		if n > uint64(len(recv)) {
			return fmt.Errorf("length %d over the buffer's %d", n, len(recv))
		}
		if _, err := io.ReadFull(c, recv[:n]); err != nil {
			return err
		}
		if _, err := c.Write(ack); err != nil {
			return err
		}
	}
}
