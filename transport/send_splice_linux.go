//go:build linux

package transport

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/roadrunner-wasm/roadrunner/transport/features"
)

// spliceSender moves a payload with vmsplice into the connection's pipe and
// splice from the pipe into the socket (MechanismSplice). Where the system
// refuses either call before any byte of a chunk reached the socket, the
// rest of the payload goes with writev, the fallback is reported, and the
// process sends with writev from then on.
type spliceSender struct {
	pipe  *pipe // made on first use
	plain writevSender

	// spliceOut's state, passed through fields so that its method value
	// (made once) does not allocate per call.
	outFn func(fd uintptr) bool
	n     int
	got   int
	err   error
	more  bool
	// lastFlags are the flags of the last splice call: tests check that
	// a payload's last piece goes without SPLICE_F_MORE.
	lastFlags int
}

func newSpliceSender(chunk int) *spliceSender {
	s := &spliceSender{plain: writevSender{mech: MechanismWrite, chunk: chunk}}
	s.outFn = s.spliceOut
	return s
}

func (s *spliceSender) send(ctx context.Context, c *clientConn, t *transfer) error {
	return c.written(ctx, t, s.write(ctx, c, t))
}

func (s *spliceSender) write(ctx context.Context, c *clientConn, t *transfer) error {
	if len(t.payload) == 0 {
		return s.plain.write(ctx, c, t)
	}
	if err := spliceRefused(); err != nil {
		c.p.spliceFellBack(err)
		return s.plain.write(ctx, c, t)
	}
	t.mech = MechanismSplice
	return s.writeSplice(ctx, c, t)
}

func (s *spliceSender) abort() {}

func (s *spliceSender) close() {
	if s.pipe != nil {
		s.pipe.close()
		s.pipe = nil
	}
}

// writeSplice writes the head, then moves the payload through the pipe.
func (s *spliceSender) writeSplice(ctx context.Context, c *clientConn, t *transfer) error {
	payload := t.payload
	if s.pipe == nil {
		pp, err := newPipe()
		if err != nil {
			c.p.spliceFellBack(err)
			return s.plain.write(ctx, c, t)
		}
		s.pipe = pp
	}
	if err := c.arm(ctx); err != nil {
		return err
	}
	if _, err := c.nc.Write(t.head); err != nil {
		return err
	}
	for off := 0; off < len(payload); {
		n, err := s.pipe.vmsplice(payload[off:min(len(payload), off+s.pipe.size)])
		if err != nil {
			if features.IsRefusal(err) {
				refuseSplice(fmt.Errorf("vmsplice: %w", err))
				c.p.spliceFellBack(err)
				t.mech = MechanismWrite
				return s.plain.writeFrom(ctx, c, nil, payload[off:])
			}
			return fmt.Errorf("vmsplice: %w", err)
		}
		moved := 0
		for moved < n {
			if err := c.arm(ctx); err != nil {
				return err
			}
			s.n, s.got, s.err = n-moved, 0, nil
			// SPLICE_F_MORE tells TCP more bytes follow at once: on the
			// last piece of the payload it would hold that piece back
			// (like TCP_CORK) until a timer fires.
			s.more = off+n < len(payload)
			if err := c.raw.Write(s.outFn); err != nil {
				return err
			}
			if s.err != nil {
				if moved == 0 && features.IsRefusal(s.err) {
					// The chunk is still whole in the pipe: drop the pipe
					// and write the chunk from the payload instead.
					refuseSplice(fmt.Errorf("splice: %w", s.err))
					c.p.spliceFellBack(s.err)
					s.pipe.close()
					s.pipe = nil
					t.mech = MechanismWrite
					return s.plain.writeFrom(ctx, c, nil, payload[off:])
				}
				return fmt.Errorf("splice: %w", s.err)
			}
			moved += s.got
		}
		off += n
	}
	return nil
}

// spliceOut is the raw write callback of writeSplice: one splice from the
// pipe into the socket. It returns false to wait for the socket to drain.
func (s *spliceSender) spliceOut(fd uintptr) bool {
	flags := unix.SPLICE_F_MOVE | unix.SPLICE_F_NONBLOCK
	if s.more {
		flags |= unix.SPLICE_F_MORE
	}
	s.lastFlags = flags
	n, err := unix.Splice(s.pipe.r, nil, int(fd), nil, s.n, flags)
	if err == unix.EAGAIN {
		return false
	}
	if err == unix.EINTR {
		return s.spliceOut(fd)
	}
	s.got, s.err = int(n), err
	if err == nil && n == 0 {
		s.err = io.ErrUnexpectedEOF
	}
	return true
}

// spliceFellBack reports one transfer that used writev instead of splice.
func (p *Peer) spliceFellBack(err error) {
	if p.opts.OnFallback != nil {
		p.opts.OnFallback(MechanismSplice.String(), MechanismWritev.String(), features.Reason(err))
	}
}

// pipe is the splice mechanism's pipe: payload pages go in with vmsplice
// and out into the socket with splice. Each tcp connection that splices
// owns one, made on first use and closed with the connection, so pipes are
// pooled with the connections that use them.
type pipe struct {
	r, w int
	size int // bytes the pipe holds: what one vmsplice may queue
	iov  [1]unix.Iovec
}

// pipeSize is the size the splice mechanism asks its pipes for: a chunk of
// a payload. The system may cap it (fs/pipe-max-size, default 1 MiB).
const pipeSize = 1 << 20

func newPipe() (*pipe, error) {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return nil, fmt.Errorf("pipe2: %w", err)
	}
	p := &pipe{r: fds[0], w: fds[1]}
	want := pipeSize
	if max, err := features.PipeMaxSize(); err == nil && max < want {
		want = max
	}
	size, err := unix.FcntlInt(uintptr(p.w), unix.F_SETPIPE_SZ, want)
	if err != nil {
		// Keep the default size: a smaller chunk, not a failure.
		size, err = unix.FcntlInt(uintptr(p.w), unix.F_GETPIPE_SZ, 0)
		if err != nil {
			p.close()
			return nil, fmt.Errorf("F_GETPIPE_SZ: %w", err)
		}
	}
	p.size = size
	return p, nil
}

func (p *pipe) close() {
	unix.Close(p.r)
	unix.Close(p.w)
}

// vmsplice queues the pages under b in the pipe (references, not copies)
// and returns how many bytes it queued: all of b if it fits in the pipe,
// which is empty on each call.
func (p *pipe) vmsplice(b []byte) (int, error) {
	p.iov[0].Base = unsafe.SliceData(b)
	p.iov[0].SetLen(len(b))
	for {
		r1, _, errno := unix.Syscall6(unix.SYS_VMSPLICE, uintptr(p.w), uintptr(unsafe.Pointer(&p.iov[0])), 1, unix.SPLICE_F_NONBLOCK, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		p.iov[0].Base = nil
		if errno != 0 {
			return 0, errno
		}
		return int(r1), nil
	}
}

// spliceRefusal is the first refusal of vmsplice or splice, kept for the
// process: a seccomp filter or a kernel that refuses once refuses every
// time, and trying again per transfer would cost a failed system call
// each.
var spliceRefusal atomic.Pointer[error]

func refuseSplice(err error) {
	spliceRefusal.CompareAndSwap(nil, &err)
}

// spliceRefused returns why splice is refused in this process, or nil.
func spliceRefused() error {
	if p := spliceRefusal.Load(); p != nil {
		return *p
	}
	return nil
}
