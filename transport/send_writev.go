package transport

import (
	"context"
	"net"
)

// writevSender writes the header and name with the first chunk of the
// payload in one writev, then the rest chunk by chunk: the unix path
// (MechanismWritev, the whole payload in one call) and the tcp path's
// MechanismWrite (chunks of DialOptions.ChunkSize).
type writevSender struct {
	mech  Mechanism
	chunk int // payload bytes per call; 0: all at once
	iov   [2][]byte
	bufs  net.Buffers
}

func (w *writevSender) send(ctx context.Context, c *clientConn, t *transfer) error {
	return c.written(ctx, t, w.write(ctx, c, t))
}

func (w *writevSender) write(ctx context.Context, c *clientConn, t *transfer) error {
	t.mech = w.mech
	return w.writeFrom(ctx, c, t.head, t.payload)
}

// writeFrom writes head (nil: none) and payload.
func (w *writevSender) writeFrom(ctx context.Context, c *clientConn, head, payload []byte) error {
	chunk := w.chunk
	if chunk <= 0 {
		chunk = len(payload)
	}
	first := min(len(payload), chunk)
	if err := c.arm(ctx); err != nil {
		return err
	}
	w.iov[0], w.iov[1] = head, payload[:first]
	w.bufs = w.iov[:]
	if len(head) == 0 {
		w.bufs = w.iov[1:]
	}
	_, err := w.bufs.WriteTo(c.nc)
	w.iov[0], w.iov[1] = nil, nil
	if err != nil {
		return err
	}
	for off := first; off < len(payload); off += chunk {
		if err := c.arm(ctx); err != nil {
			return err
		}
		if _, err := c.nc.Write(payload[off:min(len(payload), off+chunk)]); err != nil {
			return err
		}
	}
	return nil
}

func (w *writevSender) abort() {}
func (w *writevSender) close() {}
