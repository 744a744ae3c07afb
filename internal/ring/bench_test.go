//go:build linux

package ring_test

import (
	"fmt"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/roadrunner-wasm/roadrunner/internal/ring"
)

// BenchmarkRingShape decides between a ring per connection and a ring per
// worker: 16 goroutines each send 4 KiB messages over their own unix
// socketpair, drained by a reader goroutine per pair with plain reads,
//
//   - RingPerGoroutine: each sender with its own ring (Send, then Wait);
//   - SharedRing: all senders on one ring behind a mutex, each holding it
//     from its Send to its Wait's return;
//   - Write: plain write(2), no ring.
//
// An op is one message; msgs/s counts all senders together.
func BenchmarkRingShape(b *testing.B) {
	const workers = 16
	b.Run("RingPerGoroutine", func(b *testing.B) {
		benchShape(b, workers, func(b *testing.B) func(fd int, msg []byte) error {
			r := newBenchRing(b)
			cqes := make([]ring.CQE, 1)
			return func(fd int, msg []byte) error { return ringSend(r, fd, msg, cqes) }
		})
	})
	b.Run("SharedRing", func(b *testing.B) {
		r := newBenchRing(b)
		var mu sync.Mutex
		benchShape(b, workers, func(b *testing.B) func(fd int, msg []byte) error {
			cqes := make([]ring.CQE, 1)
			return func(fd int, msg []byte) error {
				mu.Lock()
				defer mu.Unlock()
				return ringSend(r, fd, msg, cqes)
			}
		})
	})
	b.Run("Write", func(b *testing.B) {
		benchShape(b, workers, func(*testing.B) func(fd int, msg []byte) error { return writeAll })
	})
}

func newBenchRing(b *testing.B) ring.Ring {
	r, err := ring.New(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	return r
}

// ringSend sends msg whole (MSG_WAITALL) and waits for the completion.
func ringSend(r ring.Ring, fd int, msg []byte, cqes []ring.CQE) error {
	if err := r.Send(ring.Op{UserData: uint64(fd)}, fd, msg, unix.MSG_WAITALL|unix.MSG_NOSIGNAL); err != nil {
		return err
	}
	if _, err := r.Wait(cqes, 1, 0); err != nil {
		return err
	}
	if c := cqes[0]; c.UserData != uint64(fd) || int(c.Res) != len(msg) {
		return fmt.Errorf("send: %+v, want %d bytes", c, len(msg))
	}
	return nil
}

func writeAll(fd int, msg []byte) error {
	for len(msg) > 0 {
		n, err := unix.Write(fd, msg)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		msg = msg[n:]
	}
	return nil
}

// benchShape runs b.N sends of 4 KiB, spread over workers goroutines,
// each with the send function newSend made for it and its own
// socketpair, and waits until the readers have drained every byte.
func benchShape(b *testing.B, workers int, newSend func(*testing.B) func(fd int, msg []byte) error) {
	const size = 4 << 10
	type pair struct {
		w, r int
		send func(int, []byte) error
	}
	pairs := make([]pair, workers)
	for i := range pairs {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
		pairs[i] = pair{w: fds[0], r: fds[1], send: newSend(b)}
	}
	b.SetBytes(size)
	b.ResetTimer()

	var readers, senders sync.WaitGroup
	errs := make(chan error, 2*workers)
	for w, p := range pairs {
		n := b.N / workers
		if w < b.N%workers {
			n++
		}
		readers.Go(func() {
			buf := make([]byte, 64<<10)
			total := 0
			for {
				k, err := unix.Read(p.r, buf)
				if err == unix.EINTR {
					continue
				}
				if err != nil {
					errs <- err
					return
				}
				if k == 0 {
					break
				}
				total += k
			}
			if total != n*size {
				errs <- fmt.Errorf("reader %d: %d bytes, want %d", w, total, n*size)
			}
		})
		senders.Go(func() {
			defer unix.Shutdown(p.w, unix.SHUT_WR)
			msg := make([]byte, size)
			for range n {
				if err := p.send(p.w, msg); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	senders.Wait()
	readers.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
