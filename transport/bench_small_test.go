package transport_test

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/internal/netns"
	"github.com/roadrunner-wasm/roadrunner/transport"
)

// BenchmarkSmall measures many small messages at once (issue 4,
// "Measure"): 16 goroutines share one Peer (16 connections) and send 4 KiB
// payloads to one Server, with plain syscalls and with io_uring on both
// sides (every message through the ring, and as shipped: under
// DefaultRingMin, plain). One op is one message; msgs/s is the rate of all 16 together.
//
//	go test -run '^$' -bench Small -count 5 ./transport/
//
// veth runs tcp between two network namespaces and needs root.
func BenchmarkSmall(b *testing.B) {
	for _, path := range []string{"unix", "tcp", "veth"} {
		for _, mode := range []struct {
			name          string
			ring, ringMin int
		}{
			{"plain", 0, 0},
			// every message through the ring
			{"iouring", 1, 1},
			// --accel iouring as shipped: under DefaultRingMin, plain
			{"iouring-default", 1, 0},
		} {
			b.Run(path+"/"+mode.name, func(b *testing.B) { benchSmall(b, path, mode.ring == 1, mode.ringMin) })
		}
	}
}

const (
	smallSenders = 16
	smallSize    = 4 << 10
)

func benchSmall(b *testing.B, path string, ring bool, ringMin int) {
	network := transport.PathUnix
	var ln net.Listener
	var err error
	dial := func(fn func() error) error { return fn() }
	switch path {
	case "unix":
		ln, err = transport.ListenUnix(b.TempDir()+"/s.sock", 0, -1)
	case "tcp":
		network = transport.PathTCP
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	case "veth":
		network = transport.PathTCP
		a, z := netns.ForTest(b, "small-snd"), netns.ForTest(b, "small-rcv")
		if err := netns.Veth(a, "198.18.0.1/24", z, "198.18.0.2/24"); err != nil {
			b.Fatal(err)
		}
		ln, err = z.Listen("tcp", "198.18.0.2:0")
		dial = a.Do
	}
	if err != nil {
		b.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	sk := &concurrentSink{}
	sk.hold.Store(true)
	srv := transport.NewServer(sk, network, &transport.ServerOptions{Logger: quiet, IOURing: ring, RingMin: ringMin})
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Close(ctx)
		<-done
	})
	p, err := transport.NewPeer(network.String()+"://"+ln.Addr().String(), &transport.DialOptions{
		Mechanism: transport.MechanismWrite,
		MaxConns:  smallSenders,
		IOURing:   ring,
		RingMin:   ringMin,
		Logger:    quiet,
		OnFallback: func(from, to, reason string) {
			b.Errorf("fell back from %s to %s: %s", from, to, reason)
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close() })
	payload := pattern(smallSize, 7)
	ctx := context.Background()
	// Open the 16 connections (in the sender's namespace for veth): the
	// sink holds each delivery a moment, so that each of the 16 sends
	// needs a connection of its own and none is dialed later, elsewhere.
	var wg sync.WaitGroup
	errs := make(chan error, smallSenders)
	for range smallSenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- dial(func() error { _, err := p.Send(ctx, "fn", payload, nil); return err })
		}()
	}
	wg.Wait()
	for range smallSenders {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	sk.hold.Store(false)
	if open, _ := p.Conns(); open != smallSenders {
		b.Fatalf("%d connections after warm-up, want %d", open, smallSenders)
	}
	b.SetBytes(smallSize)
	b.ResetTimer()
	start := time.Now()
	p0 := processCPU()
	var next sync.WaitGroup
	per := (b.N + smallSenders - 1) / smallSenders
	for range smallSenders {
		next.Add(1)
		go func() {
			defer next.Done()
			for range per {
				if _, err := p.Send(ctx, "fn", payload, nil); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	next.Wait()
	b.StopTimer()
	d := time.Since(start)
	close(errs)
	for err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	msgs := float64(per * smallSenders)
	b.ReportMetric(msgs/d.Seconds(), "msgs/s")
	b.ReportMetric(float64(processCPU()-p0)/msgs, "total-ns/msg")
}

// concurrentSink delivers every payload into a buffer of its own
// connection's: deliveries run concurrently.
type concurrentSink struct {
	pool sync.Pool
	hold atomic.Bool // hold each delivery 50 ms (warm-up)
}

func (s *concurrentSink) Deliver(_ context.Context, _ *transport.Origin, to string, n uint64, fill func([]byte) error) error {
	if to != "fn" {
		return errNoFunction
	}
	if s.hold.Load() {
		time.Sleep(50 * time.Millisecond)
	}
	bp, _ := s.pool.Get().(*[]byte)
	if bp == nil || uint64(cap(*bp)) < n {
		buf := make([]byte, n)
		bp = &buf
	}
	err := fill((*bp)[:n])
	s.pool.Put(bp)
	return err
}
