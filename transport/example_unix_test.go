//go:build linux

package transport_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/roadrunner-wasm/roadrunner/abi"
	"github.com/roadrunner-wasm/roadrunner/transport"
)

// greeter is the receiving node's Sink: it hosts one function, "greet", whose
// reply is "hello, " and the payload. A Server reads each payload from its
// socket straight into the view lent here, so a runtime would lend a range
// of the receiving instance's linear memory (rr_alloc) and call rr_handle
// after fill.
type greeter struct{}

func (greeter) Deliver(ctx context.Context, from *transport.Origin, to string, n uint64, fill func(dst []byte) error) error {
	if to != "greet" {
		return abi.UnknownFunction // before fill: the payload is never read
	}
	buf := make([]byte, n)
	if err := fill(buf); err != nil {
		return err
	}
	fmt.Printf("%s received %q over %s (%s)\n", to, buf, from.Path, from.Mechanism)
	if from.Reply != nil { // the sender takes a reply: one Write
		if _, err := from.Reply.Write(append([]byte("hello, "), buf...)); err != nil {
			return err
		}
	}
	return nil
}

// A Server and a Peer on the unix path: two nodes of one host, here in one
// process. Send returns after the receiver's ACK, with the reply if the
// receiver sent one.
func ExampleServer() {
	dir, err := os.MkdirTemp("", "rr-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	socket := filepath.Join(dir, "node.sock")

	// The receiving node: a socket only this user may connect to (mode 0
	// is 0600), served until Close.
	ln, err := transport.ListenUnix(socket, 0, -1)
	if err != nil {
		log.Fatal(err)
	}
	srv := transport.NewServer(greeter{}, transport.PathUnix, &transport.ServerOptions{
		// The ACK's status is the ABI code of Deliver's error, which
		// the sender gets back as a *StatusError.
		Status: func(err error) int32 { return int32(abi.CodeOf(err)) },
	})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	// The sending node: a Peer for the receiver's address.
	peer, err := transport.NewPeer("unix://"+socket, nil)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	var reply bytes.Buffer
	sent, err := peer.Send(ctx, "greet", []byte("world"), &reply)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("reply %q, sent with %s\n", reply.Bytes(), sent.Mechanism)

	_, err = peer.Send(ctx, "shout", []byte("world"), nil)
	var status *transport.StatusError
	if errors.As(err, &status) {
		fmt.Printf("shout: %v (%s)\n", abi.Code(status.Status), abi.Code(status.Status).Label())
	}

	peer.Close()
	if err := srv.Close(ctx); err != nil {
		log.Fatal(err)
	}
	if err := <-served; err != nil {
		log.Fatal(err)
	}
	// Output:
	// greet received "world" over unix (read)
	// reply "hello, world", sent with writev
	// shout: unknown function (unknown_function)
}
