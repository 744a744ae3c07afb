package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

// SendOptions are the extras of [Peer.SendWith].
type SendOptions struct {
	// Depth is how many hops the payload's chain has made before this
	// one: a listener that speaks the cluster directory refuses the frame
	// once the chain is longer than its own limit allows (a cycle across
	// nodes). A listener that does not is told nothing. Zero means not
	// said.
	Depth uint32
	// Hops, if not nil, receives what the receiving node reports of the
	// hops it made for this frame (a HOPS frame's payload, whose encoding
	// is the application's) in one Write call before Send returns, with a
	// view valid only during that call; no call if it reports none. A
	// listener that does not speak the cluster directory reports nothing.
	Hops io.Writer
	// Trace, if valid (TraceContext.Valid), goes to the receiver with the
	// frame, on every send mechanism (PROTOCOL.md "Trace context"): on a
	// connection with DialOptions.Trace set whose listener's HELLO said it
	// takes one. A listener that did not is told nothing.
	Trace TraceContext
}

// Exchange sends this node's directory (DialOptions.Directory) to the
// peer over one of its connections and returns the peer's, which the peer
// answers with: how a node learns what a peer hosts, and tells it what it
// hosts, on connecting and whenever its functions change. It fails with
// ErrNoDirectory if the peer's HELLO did not say it speaks the directory,
// and wraps ErrNotSent if no connection could be had.
func (p *Peer) Exchange(ctx context.Context) (*wire.Directory, error) {
	if p.opts.Directory == nil {
		return nil, fmt.Errorf("exchange with %s: DialOptions.Directory not set", p.address)
	}
	c, err := p.get(ctx)
	if err != nil {
		return nil, &notSent{err}
	}
	d, err := c.exchange(ctx)
	if c.broken {
		p.discard(c)
	} else {
		p.put(c)
	}
	if err != nil {
		return nil, fmt.Errorf("exchange with %s: %w", p.address, err)
	}
	return d, nil
}

// exchange is Exchange on one connection.
func (c *clientConn) exchange(ctx context.Context) (*wire.Directory, error) {
	if !c.dir {
		return nil, ErrNoDirectory
	}
	c.nextID++
	frame, err := directoryFrame(c.nextID, c.p.opts.Directory(), nil)
	if err != nil {
		return nil, err
	}
	dl := time.Now().Add(c.p.opts.IOTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	c.nc.SetDeadline(dl)
	defer c.nc.SetDeadline(time.Time{})
	c.broken = true // until the answer is read whole
	if _, err := c.nc.Write(frame); err != nil {
		return nil, c.failure(ctx, "send directory", err)
	}
	ah, err := wire.ReadHeader(c.nc, &c.in, wire.Limits{})
	if err != nil {
		return nil, c.failure(ctx, "read directory", err)
	}
	if ah.Kind != wire.KindDirectory || ah.ID != c.nextID {
		return nil, &wire.FrameError{Field: "kind", Reason: fmt.Sprintf("%s %d where the DIRECTORY of frame %d belongs", ah.Kind, ah.ID, c.nextID)}
	}
	d, err := readDirectory(c.nc, ah)
	if err != nil {
		return nil, c.failure(ctx, "read directory", err)
	}
	c.broken = false
	return &d, nil
}

// directoryFrame appends to b the DIRECTORY frame numbered id that carries
// d, header and payload.
func directoryFrame(id uint64, d *wire.Directory, b []byte) ([]byte, error) {
	n := len(b)
	b = d.Append(append(b, make([]byte, wire.HeaderSize)...))
	size := len(b) - n - wire.HeaderSize
	if size > wire.MaxDirectoryPayload {
		return nil, fmt.Errorf("this node's directory is %d bytes, over %d", size, wire.MaxDirectoryPayload)
	}
	h := wire.Header{Kind: wire.KindDirectory, PayloadLen: uint64(size), ID: id}
	h.Put(b[n:])
	return b, nil
}

// readDirectory reads and parses the payload of the DIRECTORY frame h.
func readDirectory(r io.Reader, h wire.Header) (wire.Directory, error) {
	buf := make([]byte, h.PayloadLen)
	if err := wire.ReadPayload(r, h, buf); err != nil {
		return wire.Directory{}, err
	}
	return wire.ParseDirectory(buf)
}

// directory serves a DIRECTORY frame (header h, the connection's current
// frame): the dialer's directory goes to OnDirectory, and this node's
// answers it.
func (c *serverConn) directory(h wire.Header) error {
	o := &c.s.opts
	if o.Directory == nil {
		return &wire.FrameError{Field: "kind", Reason: "DIRECTORY to a node without a directory"}
	}
	theirs, err := readDirectory(c.br, h)
	if err != nil {
		return err
	}
	if o.OnDirectory != nil {
		o.OnDirectory(c.peer, &theirs)
	}
	frame, err := directoryFrame(h.ID, o.Directory(), nil)
	if err != nil {
		return err
	}
	return c.writeFrame(frame[:wire.HeaderSize], frame[wire.HeaderSize:])
}

// hopsWriter takes the HOPS frame of the frame its connection serves: the
// frame goes out with the ACK, in one write.
type hopsWriter struct{ c *serverConn }

func (w hopsWriter) Write(p []byte) (int, error) {
	c := w.c
	if c.hopsSet {
		return 0, errors.New("hops already written for this frame")
	}
	if len(p) > wire.MaxHopsPayload {
		p = p[:0] // too many to report: the sender gets none rather than a cut encoding
	}
	h := wire.Header{Kind: wire.KindHops, PayloadLen: uint64(len(p)), ID: c.h.ID}
	c.hops = append(wire.AppendHeader(c.hops[:0], &h), p...)
	c.hopsSet = true
	return len(p), nil
}

// writeAck writes the ACK in c.out, after the frame's HOPS if any, in one
// write.
func (c *serverConn) writeAck() error {
	if !c.hopsSet {
		return c.writeFrame(c.out[:], nil)
	}
	c.hopsSet = false
	err := c.writeFrame(c.hops, c.out[:])
	if cap(c.hops) > 2*wire.MaxHopsPayload {
		c.hops = nil
	}
	return err
}
