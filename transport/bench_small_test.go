package transport_test

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/internal/netns"
	"github.com/roadrunner-wasm/roadrunner/transport"
)

// BenchmarkSmall measures many small messages at once (issue 4,
// "Measure"): 16 goroutines share one Peer (16 connections) and send 4 KiB
// payloads to one Server, with plain syscalls and with io_uring on both
// sides. One op is one message; msgs/s is the rate of all 16 together.
//
//	go test -run '^$' -bench Small -count 5 ./transport/
//
// veth runs tcp between two network namespaces and needs root.
func BenchmarkSmall(b *testing.B) {
	for _, path := range []string{"unix", "tcp", "veth"} {
		for _, ring := range []bool{false, true} {
			name := path + "/plain"
			if ring {
				name = path + "/iouring"
			}
			b.Run(name, func(b *testing.B) { benchSmall(b, path, ring) })
		}
	}
}

const (
	smallSenders = 16
	smallSize    = 4 << 10
)

func benchSmall(b *testing.B, path string, ring bool) {
	network := path
	var ln net.Listener
	var err error
	dial := func(fn func() error) error { return fn() }
	switch path {
	case "unix":
		ln, err = transport.ListenUnix(b.TempDir()+"/s.sock", 0, -1)
	case "tcp":
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	case "veth":
		network = "tcp"
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
	srv := transport.NewServer(&concurrentSink{}, network, &transport.ServerOptions{Logger: quiet, IOURing: ring, RingMin: 1})
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Close(ctx)
		<-done
	})
	p, err := transport.NewPeer(network+"://"+ln.Addr().String(), &transport.DialOptions{
		Mechanism: transport.MechanismWrite,
		MaxConns:  smallSenders,
		IOURing:   ring,
		RingMin:   1, // through the ring although small: what is measured
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
	// Open the 16 connections (in the sender's namespace for veth).
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
type concurrentSink struct{ pool sync.Pool }

func (s *concurrentSink) Deliver(_ context.Context, to string, n uint64, fill func([]byte) error) error {
	if to != "fn" {
		return errNoFunction
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
