package transport_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/internal/testcerts"
	"github.com/roadrunner-wasm/roadrunner/transport"
	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

// dirSink is a sink that records the depth each delivery came with and
// reports "hops of NAME" as its hops.
type dirSink struct {
	sink
	depth atomic.Uint32
}

func (s *dirSink) Deliver(ctx context.Context, from *transport.Origin, to string, n uint64, fill func([]byte) error) error {
	s.depth.Store(from.Depth)
	err := s.sink.Deliver(ctx, from, to, n, fill)
	if from.Hops != nil {
		fmt.Fprintf(from.Hops, "hops of %s", to)
	}
	return err
}

// directory is a node's directory whose function list can change.
type directory struct {
	mu sync.Mutex
	d  wire.Directory
}

func (d *directory) get() *wire.Directory {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.d
	return &c
}

func (d *directory) set(gen uint64, fns ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.d.Generation, d.d.Functions = gen, fns
}

// received collects the directories a server was given.
type received struct {
	mu   sync.Mutex
	dirs []wire.Directory
}

func (r *received) add(remote string, d *wire.Directory) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dirs = append(r.dirs, *d)
}

func (r *received) last() (wire.Directory, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.dirs) == 0 {
		return wire.Directory{}, 0
	}
	return r.dirs[len(r.dirs)-1], len(r.dirs)
}

// TestDirectory: on every path and mechanism, with and without keys, a
// dialer and a listener that both speak the directory exchange theirs
// (each learns the other's, and a changed one), the chain's depth reaches
// the listener's sink, and the hops it reports come back before Send
// returns.
func TestDirectory(t *testing.T) {
	key := newKey()
	for _, m := range mechanisms {
		for _, auth := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/auth=%v", m, auth), func(t *testing.T) {
				if m.ring {
					requireRing(t)
				}
				sk := &dirSink{}
				lis := &directory{d: wire.Directory{Name: "lis", Instance: [16]byte{1}, Unix: "/run/lis.sock", Generation: 1, Functions: []string{"fn", "echo"}}}
				var got received
				so := m.server()
				so.Directory, so.OnDirectory = lis.get, got.add
				dia := &directory{d: wire.Directory{Name: "dia", Instance: [16]byte{2}, HasHost: true, Host: [16]byte{3}, Generation: 7, Functions: []string{"a"}}}
				do := transport.DialOptions{Directory: dia.get}
				if auth {
					so.Auth = newAuth(t, "lis", 0, key)
					do.Auth = newAuth(t, "dia", 0, key)
				}
				s := startServer(t, m.path, sk, so)
				p := newPeer(t, s.addr, m.dial(do))
				ctx := context.Background()

				d, err := p.Exchange(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if want := lis.get(); d.Name != want.Name || d.Instance != want.Instance || d.Unix != want.Unix || d.Generation != 1 || fmt.Sprint(d.Functions) != "[fn echo]" {
					t.Errorf("Exchange = %+v, want %+v", d, want)
				}
				if theirs, n := got.last(); n != 1 || theirs.Name != "dia" || theirs.Host != [16]byte{3} || !theirs.HasHost || fmt.Sprint(theirs.Functions) != "[a]" {
					t.Errorf("listener got %d directories, the last %+v", n, theirs)
				}

				for _, size := range []int{0, 100, 1 << 20} {
					var hops, reply bytes.Buffer
					want := pattern(size, 9)
					if _, err := p.SendWith(ctx, "echo", want, &reply, &transport.SendOptions{Depth: 3, Hops: &hops}); err != nil {
						t.Fatalf("%d bytes: %v", size, err)
					}
					if sk.depth.Load() != 3 {
						t.Errorf("%d bytes: depth %d at the listener, want 3", size, sk.depth.Load())
					}
					if hops.String() != "hops of echo" || !bytes.Equal(reply.Bytes(), want) {
						t.Errorf("%d bytes: hops %q, reply of %d bytes", size, hops.String(), reply.Len())
					}
				}
				// Without options: no depth, no hops asked.
				if _, err := p.Send(ctx, "fn", []byte("x"), nil); err != nil || sk.depth.Load() != 0 {
					t.Errorf("Send: %v, depth %d", err, sk.depth.Load())
				}

				// Both change their functions: the next exchange tells each.
				lis.set(2, "fn")
				dia.set(8, "a", "b")
				if d, err = p.Exchange(ctx); err != nil || d.Generation != 2 || fmt.Sprint(d.Functions) != "[fn]" {
					t.Errorf("second Exchange = %+v, %v", d, err)
				}
				if theirs, n := got.last(); n != 2 || theirs.Generation != 8 || fmt.Sprint(theirs.Functions) != "[a b]" {
					t.Errorf("listener got %d directories, the last %+v", n, theirs)
				}
				if n := s.refusals(transport.RefusedBadFrame); n != 0 {
					t.Errorf("%d bad frames", n)
				}
			})
		}
	}
}

// TestDirectoryOldListener: a listener that does not speak the directory
// (a node of an older version, or one without a directory) still takes
// the dialer's sends, is told no depth and asked for no hops; Exchange
// says it cannot.
func TestDirectoryOldListener(t *testing.T) {
	for _, path := range []transport.Path{transport.PathUnix, transport.PathTCP} {
		t.Run(path.String(), func(t *testing.T) {
			sk := &dirSink{}
			s := startServer(t, path, sk, nil)
			dia := &directory{d: wire.Directory{Name: "dia", Functions: []string{"a"}}}
			p := newPeer(t, s.addr, &transport.DialOptions{Directory: dia.get})
			if _, err := p.Exchange(context.Background()); !errors.Is(err, transport.ErrNoDirectory) {
				t.Fatalf("Exchange = %v, want ErrNoDirectory", err)
			}
			var hops bytes.Buffer
			if _, err := p.SendWith(context.Background(), "fn", []byte("x"), nil, &transport.SendOptions{Depth: 5, Hops: &hops}); err != nil {
				t.Fatal(err)
			}
			if sk.depth.Load() != 0 || hops.Len() != 0 {
				t.Errorf("depth %d, hops %q: want none told, none asked", sk.depth.Load(), hops.String())
			}
		})
	}
}

// TestDirectoryRefusedByOldNode: a DIRECTORY frame sent to a node without
// a directory is refused as a bad frame and the connection closed; nothing
// is misparsed as a payload, and the node goes on serving others.
func TestDirectoryRefusedByOldNode(t *testing.T) {
	sk := &dirSink{}
	s := startServer(t, transport.PathTCP, sk, nil)
	c, err := net.Dial("tcp", s.addr[len("tcp://"):])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d := wire.Directory{Name: "dia", Functions: []string{"fn"}}
	payload := d.Append(nil)
	h := wire.Header{Kind: wire.KindDirectory, PayloadLen: uint64(len(payload)), ID: 1}
	c.Write(append(wire.AppendHeader(nil, &h), payload...))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := io.ReadAll(c); err != nil || len(n) != 0 {
		t.Fatalf("the node answered %q, %v: want the connection closed without an answer", n, err)
	}
	waitFor(t, func() bool { return s.refusals(transport.RefusedBadFrame) == 1 }, "a bad frame counted")
	if sk.fills.Load() != 0 {
		t.Errorf("%d fills: the DIRECTORY reached the sink", sk.fills.Load())
	}
	p := newPeer(t, s.addr, nil)
	if _, err := p.Send(context.Background(), "fn", []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
}

// TestNotSent: a send or an exchange that could not connect says nothing
// was sent; one refused by the receiver's function does not.
func TestNotSent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	dia := &directory{d: wire.Directory{Name: "dia"}}
	p := newPeer(t, "tcp://"+addr, &transport.DialOptions{Directory: dia.get, DialTimeout: 2 * time.Second})
	if _, err := p.Send(context.Background(), "fn", []byte("x"), nil); !errors.Is(err, transport.ErrNotSent) {
		t.Errorf("Send to a closed port: %v, want ErrNotSent", err)
	}
	if _, err := p.Exchange(context.Background()); !errors.Is(err, transport.ErrNotSent) {
		t.Errorf("Exchange with a closed port: %v, want ErrNotSent", err)
	}
	// A refused HELLO sends nothing either.
	key := newKey()
	s := startServer(t, transport.PathTCP, &sink{}, &transport.ServerOptions{Auth: newAuth(t, "lis", 0, key)})
	q := newPeer(t, s.addr, &transport.DialOptions{Auth: newAuth(t, "dia", 0, newKey())})
	if _, err := q.Send(context.Background(), "fn", []byte("x"), nil); !errors.Is(err, transport.ErrNotSent) {
		t.Errorf("Send refused at the HELLO: %v, want ErrNotSent", err)
	}
	// A status from the receiver: the frame was sent.
	r := newPeer(t, s.addr, &transport.DialOptions{Auth: newAuth(t, "dia", 0, key)})
	if _, err := r.Send(context.Background(), "nope", []byte("x"), nil); err == nil || errors.Is(err, transport.ErrNotSent) {
		t.Errorf("Send to an unknown function: %v, want a status, not ErrNotSent", err)
	}
}

// TestDirectoryTLS: over TLS, with and without keys, with and without a
// sockmap (which TLS cannot use), the directory is exchanged and the depth
// and hops cross as on a plain connection.
func TestDirectoryTLS(t *testing.T) {
	ca := testcerts.NewCA(t, t.TempDir(), "cluster")
	key := newKey()
	for _, c := range []struct{ auth, sockmap bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
		auth := c.auth
		t.Run(fmt.Sprintf("auth=%v/sockmap=%v", c.auth, c.sockmap), func(t *testing.T) {
			sk := &dirSink{}
			lis := &directory{d: wire.Directory{Name: "lis", Generation: 3, Functions: []string{"fn"}}}
			so := &transport.ServerOptions{TLS: loadTLS(t, ca, "lis"), Directory: lis.get}
			do := transport.DialOptions{TLS: loadTLS(t, ca, "dia"), Directory: (&directory{d: wire.Directory{Name: "dia"}}).get}
			if auth {
				so.Auth, do.Auth = newAuth(t, "lis", 0, key), newAuth(t, "dia", 0, key)
			}
			if c.sockmap {
				sm, _ := openSockmap(t)
				so.Sockmap, do.Sockmap = sm, sm
			}
			s := startServer(t, transport.PathTCP, sk, so)
			p := newPeer(t, s.addr, &do)
			d, err := p.Exchange(context.Background())
			if err != nil || d.Name != "lis" || d.Generation != 3 {
				t.Fatalf("Exchange over TLS = %+v, %v", d, err)
			}
			var hops bytes.Buffer
			if _, err := p.SendWith(context.Background(), "fn", []byte("x"), nil, &transport.SendOptions{Depth: 2, Hops: &hops}); err != nil {
				t.Fatal(err)
			}
			if sk.depth.Load() != 2 || hops.String() != "hops of fn" {
				t.Errorf("depth %d, hops %q", sk.depth.Load(), hops.String())
			}
		})
	}
}
