package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/roadrunner-wasm/roadrunner/internal/shmem"
	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

// Test hooks (export_linux_test.go): shmCopyHook runs halfway through a
// copy into a receiver's file; shmOfferHook may alter an offer, and the
// descriptor handed over with it, before it is sent.
var (
	shmCopyHook  atomic.Pointer[func()]
	shmOfferHook atomic.Pointer[func(o *wire.ShmOffer, fd *int)]
)

// --- the receiving side ---

// shmState is a server connection's share of the shm path.
type shmState struct {
	on     bool                    // this connection offered it (HelloShm)
	mem    SharedMemory            // the current frame's receiver's file; nil if none
	reason uint8                   // why not, if mem is nil (wire.ShmReason...)
	files  map[SharedMemory]uint32 // the files handed over on this connection, and their numbers
	buf    [wire.HeaderSize + wire.ShmOfferSize]byte
}

// shmOffer says whether the connection offers the shm path: the server
// asks for it, on the unix path, between authenticated nodes, to a Sink
// that can share.
func (c *serverConn) shmOffer() bool {
	o := &c.s.opts
	if !o.SharedMemory || o.Auth == nil || c.s.path != PathUnix {
		return false
	}
	if _, ok := c.s.sink.(SharedSink); !ok {
		return false
	}
	if _, ok := c.nc.(*net.UnixConn); !ok {
		return false
	}
	c.shm.on = true
	return true
}

// shmLookup finds the file of the frame's receiver, before it is asked for
// memory.
func (c *serverConn) shmLookup(to string) {
	c.shm.mem, c.shm.reason = nil, wire.ShmReasonNone
	mem, err := c.s.sink.(SharedSink).SharedMemory(to)
	switch {
	case err == nil && mem != nil:
		c.shm.mem = mem
	case errors.Is(err, ErrNotShared) || err == nil:
		c.shm.reason = wire.ShmReasonNotShared
	default:
		c.shm.reason = wire.ShmReasonMemfd
	}
}

// fillShm is the fill of a DATA frame with FlagShm: it tells the sender
// where the payload goes in the receiver's file (handing the file over if
// this connection has not yet), or to send it over the stream, and waits
// for its SHM_DONE.
func (c *serverConn) fillShm(dst []byte) error {
	err := c.fillShared(dst)
	if err != nil && c.fillErr == nil {
		c.fillErr = err
	}
	return err
}

func (c *serverConn) fillShared(dst []byte) error {
	st := &c.shm
	o := wire.ShmOffer{Action: wire.ShmToRead, Reason: st.reason}
	fd := -1
	if st.mem != nil {
		if off, ok := st.mem.Offset(dst); !ok {
			o.Reason = wire.ShmReasonOutside
		} else {
			o = wire.ShmOffer{Action: wire.ShmReady, Offset: off}
			id, known := st.files[st.mem]
			if !known {
				f := st.mem.File()
				var fs unix.Stat_t
				if err := unix.Fstat(int(f.Fd()), &fs); err != nil {
					return fmt.Errorf("shm: stat the memory file: %w", err)
				}
				id = uint32(len(st.files))
				o.New, o.Size, fd = true, uint64(fs.Size), int(f.Fd())
				if st.files == nil {
					st.files = map[SharedMemory]uint32{}
				}
				st.files[st.mem] = id
			}
			o.File = id
		}
	}
	if o.Action == wire.ShmToRead {
		if f := c.s.opts.OnFallback; f != nil {
			f(AccelShm.String(), "plain", wire.ShmReasonName(o.Reason))
		}
		c.read = false // the payload is on its way
	}
	if h := shmOfferHook.Load(); h != nil {
		(*h)(&o, &fd)
	}
	h := wire.Header{Kind: wire.KindShmOffer, PayloadLen: wire.ShmOfferSize, ID: c.h.ID}
	h.Put(st.buf[:])
	o.Put(st.buf[wire.HeaderSize:])
	c.nc.SetWriteDeadline(time.Now().Add(c.s.opts.IOTimeout))
	var err error
	if fd >= 0 {
		_, _, err = c.nc.(*net.UnixConn).WriteMsgUnix(st.buf[:], unix.UnixRights(fd), nil)
	} else {
		_, err = c.nc.Write(st.buf[:])
	}
	if err != nil {
		return fmt.Errorf("shm: offer: %w", err)
	}
	done, err := wire.ReadHeader(c.br, &c.hdr, c.s.opts.Limits)
	if err != nil {
		return fmt.Errorf("shm: waiting for SHM_DONE: %w", err)
	}
	if done.Kind != wire.KindShmDone || done.ID != c.h.ID {
		return &wire.FrameError{Field: "kind", Reason: fmt.Sprintf("%s of frame %d where the SHM_DONE of frame %d belongs", done.Kind, done.ID, c.h.ID)}
	}
	if done.Status == wire.ShmStream {
		if done.PayloadLen != uint64(len(dst)) {
			return &wire.FrameError{Field: "payload_len", Reason: fmt.Sprintf("SHM_DONE carries %d bytes for a %d-byte payload", done.PayloadLen, len(dst))}
		}
		c.read = false
		id := c.h.ID
		c.h = done
		c.h.ID = id
		return c.fillPayload(dst)
	}
	if o.Action != wire.ShmReady {
		return &wire.FrameError{Field: "status", Reason: "SHM_DONE says copied where the payload was asked for over the stream"}
	}
	if err := wire.CheckPayload(c.h, dst); err != nil {
		return err
	}
	c.origin.Mechanism = MechanismShm
	c.read = true
	return nil
}

// --- the sending side ---

// shmMaps are a Peer's mappings of its receivers' memory files, shared by
// its connections: a file handed over on several connections is mapped
// once.
type shmMaps struct {
	mu sync.Mutex
	m  map[[2]uint64]*shmMap
}

// shmMap is one mapped file.
type shmMap struct {
	key  [2]uint64 // device and inode
	mem  []byte
	refs int
}

// get checks the file fd (a memfd sealed against shrinking, no larger than
// limit) and returns its mapping, made once per file.
func (ms *shmMaps) get(fd int, limit int64) (*shmMap, string, error) {
	size, err := shmem.Check(fd)
	if err != nil {
		return nil, ShmSeals, err
	}
	if size > limit {
		return nil, ShmMap, fmt.Errorf("memory file of %d bytes, over the %d mapped at most", size, limit)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, ShmMap, err
	}
	key := [2]uint64{st.Dev, st.Ino}
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if m := ms.m[key]; m != nil && int64(len(m.mem)) == size {
		m.refs++
		return m, "", nil
	}
	mem, err := shmem.Map(fd, size)
	if err != nil {
		return nil, ShmMap, err
	}
	m := &shmMap{key: key, mem: mem, refs: 1}
	if ms.m == nil {
		ms.m = map[[2]uint64]*shmMap{}
	}
	// A mapping of another size under the same key (a file gone and its
	// inode reused) stays until its connections release it.
	ms.m[key] = m
	return m, "", nil
}

// put releases a connection's use of m, unmapping it after the last.
func (ms *shmMaps) put(m *shmMap) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	m.refs--
	if m.refs > 0 {
		return
	}
	if ms.m[m.key] == m {
		delete(ms.m, m.key)
	}
	shmem.Unmap(m.mem)
	m.mem = nil
}

// shmConn is a client connection's share of the shm path.
type shmConn struct {
	on    bool              // the listener offered it and this end asked for it
	why   string            // why not, if asked for and not on
	files []*shmMap         // the files handed over, by number; nil: refused
	not   map[string]string // functions whose memory the listener said is not shared, and why
	buf   [wire.HeaderSize + wire.ShmOfferSize]byte
	oob   []byte
}

// shmJoin settles the connection's shm path after its HELLO: theirs is
// the listener's last HELLO, nil if there was none.
func (c *clientConn) shmJoin(theirs *wire.Hello) {
	o := &c.p.opts
	if !o.SharedMemory {
		return
	}
	switch {
	case c.p.path == PathTCP && c.tls:
		c.shm.why = FallbackTLS
	case c.p.path == PathTCP && theirs != nil && theirs.HasHost && !sameHost(theirs):
		c.shm.why = ShmOtherHost
	case c.p.path == PathTCP:
		c.shm.why = ShmTCP
	case o.Auth == nil:
		c.shm.why = ShmUnauthenticated
	case theirs == nil || !theirs.Shm:
		c.shm.why = ShmPeer
	default:
		c.shm.on = true
	}
}

// shmRelease releases the connection's mappings.
func (c *clientConn) shmRelease() {
	for _, m := range c.shm.files {
		if m != nil {
			c.p.maps.put(m)
		}
	}
	c.shm.files = nil
}

// shmUse says whether a payload of n bytes to function to takes the shm
// path, and reports the fallback of one large enough that cannot.
func (c *clientConn) shmUse(to string, n int) bool {
	o := &c.p.opts
	if !o.SharedMemory || n < o.SharedMin || n == 0 {
		return false
	}
	why := c.shm.why
	if c.shm.on {
		if why = c.shm.not[to]; why == "" {
			return true
		}
	}
	if o.OnFallback != nil {
		o.OnFallback(AccelShm.String(), "plain", why)
	}
	return false
}

// sendShm carries t over the shm path: the DATA frame without its payload,
// then the receiver's offer, the copy into its file (or the payload over
// the stream), SHM_DONE, and the usual answer.
func (c *clientConn) sendShm(ctx context.Context, t *transfer) error {
	t.h.Flags |= wire.FlagShm
	t.h.Put(t.head)
	t.mech = MechanismShm
	if err := c.arm(ctx); err != nil {
		c.broken = true
		return c.failure(ctx, "send", err)
	}
	if _, err := c.nc.Write(t.head); err != nil {
		return c.written(ctx, t, err)
	}
	h, fd, err := c.readOffer(ctx, t)
	if err != nil {
		c.broken = true
		return c.failure(ctx, "read offer", err)
	}
	if h.Kind != wire.KindShmOffer {
		// Refused before the receiver was asked for memory: its answer.
		return c.answer(ctx, t, nil, true)
	}
	n := uint64(len(t.payload))
	offer, err := c.offer(h, fd, n)
	if err != nil {
		c.broken = true
		return c.failure(ctx, "shm offer", err)
	}
	done := wire.Header{Kind: wire.KindShmDone, ID: t.h.ID, Status: wire.ShmCopied}
	stream := offer.Action == wire.ShmToRead
	if stream {
		if offer.Reason == wire.ShmReasonNotShared || offer.Reason == wire.ShmReasonMemfd {
			if c.shm.not == nil {
				c.shm.not = map[string]string{}
			}
			c.shm.not[string(t.head[wire.HeaderSize:wire.HeaderSize+int(t.h.NameLen)])] = wire.ShmReasonName(offer.Reason)
		}
		c.fellBack(wire.ShmReasonName(offer.Reason))
	} else if why, err := c.copyInto(offer, t.payload); err != nil {
		c.p.log.Warn("shm: the payload goes over the stream", "reason", why, "err", err)
		c.fellBack(why)
		stream = true
	}
	if stream {
		t.mech = MechanismWritev
		done.Status, done.PayloadLen = wire.ShmStream, n
		if t.h.Flags&wire.FlagCRC != 0 {
			done.Flags, done.CRC = wire.FlagCRC, t.h.CRC
		}
	}
	done.Put(c.shm.buf[:wire.HeaderSize])
	if err := c.arm(ctx); err != nil {
		c.broken = true
		return c.failure(ctx, "send", err)
	}
	var werr error
	if stream {
		bufs := net.Buffers{c.shm.buf[:wire.HeaderSize], t.payload}
		_, werr = bufs.WriteTo(c.nc)
	} else {
		_, werr = c.nc.Write(c.shm.buf[:wire.HeaderSize])
	}
	return c.written(ctx, t, werr)
}

func (c *clientConn) fellBack(reason string) {
	if f := c.p.opts.OnFallback; f != nil {
		f(AccelShm.String(), "plain", reason)
	}
}

// readOffer reads the frame that answers a DATA frame with FlagShm, with
// the file descriptor that may come with it. The header lands in c.in.
func (c *clientConn) readOffer(ctx context.Context, t *transfer) (wire.Header, int, error) {
	if d, ok := ctx.Deadline(); ok {
		c.nc.SetReadDeadline(d)
	} else {
		c.nc.SetReadDeadline(time.Time{})
	}
	if err := context.Cause(ctx); err != nil {
		return wire.Header{}, -1, err
	}
	if c.shm.oob == nil {
		c.shm.oob = make([]byte, unix.CmsgSpace(4*4))
	}
	uc := c.nc.(*net.UnixConn)
	fd := -1
	got := 0
	for got < wire.HeaderSize {
		n, oobn, flags, _, err := uc.ReadMsgUnix(c.in[got:], c.shm.oob)
		if oobn > 0 {
			fds, perr := parseRights(c.shm.oob[:oobn])
			for _, f := range fds {
				if fd < 0 && perr == nil && got == 0 {
					fd = f
				} else {
					unix.Close(f) // more than one, or not with the first byte
				}
			}
			if perr != nil {
				closeFD(&fd)
				return wire.Header{}, -1, perr
			}
		}
		if flags&unix.MSG_CTRUNC != 0 {
			closeFD(&fd)
			return wire.Header{}, -1, errors.New("shm: file descriptors cut short (MSG_CTRUNC)")
		}
		if err != nil {
			closeFD(&fd)
			if err == io.EOF && got > 0 {
				err = io.ErrUnexpectedEOF
			}
			return wire.Header{}, -1, err
		}
		if n == 0 {
			closeFD(&fd)
			return wire.Header{}, -1, io.EOF
		}
		got += n
	}
	h, err := wire.ParseHeader(c.in[:], wire.Limits{MaxPayload: c.p.opts.MaxReply})
	if err == nil && h.ID != t.h.ID {
		err = &wire.FrameError{Field: "id", Reason: fmt.Sprintf("%s for frame %d, want %d", h.Kind, h.ID, t.h.ID)}
	}
	if err == nil && fd >= 0 && h.Kind != wire.KindShmOffer {
		err = &wire.FrameError{Field: "kind", Reason: h.Kind.String() + " with a file descriptor"}
	}
	if err != nil {
		closeFD(&fd)
		return wire.Header{}, -1, err
	}
	return h, fd, nil
}

// offer reads and checks the SHM_OFFER whose header is h, for a payload of
// n bytes, and takes the file fd that came with it (-1 if none).
func (c *clientConn) offer(h wire.Header, fd int, n uint64) (wire.ShmOffer, error) {
	defer closeFD(&fd) // mapped or refused, the descriptor is not kept
	b := c.shm.buf[wire.HeaderSize:]
	if err := wire.ReadPayload(c.nc, h, b); err != nil {
		return wire.ShmOffer{}, err
	}
	o, err := wire.ParseShmOffer(b, n)
	if err != nil {
		return o, err
	}
	switch {
	case o.New != (fd >= 0):
		return o, &wire.FrameError{Field: "payload", Reason: "SHM_OFFER's new file and the descriptors sent disagree"}
	case o.New && o.File != uint32(len(c.shm.files)):
		return o, &wire.FrameError{Field: "payload", Reason: fmt.Sprintf("SHM_OFFER hands over file %d, want %d", o.File, len(c.shm.files))}
	case !o.New && o.Action == wire.ShmReady && o.File >= uint32(len(c.shm.files)):
		return o, &wire.FrameError{Field: "payload", Reason: fmt.Sprintf("SHM_OFFER names file %d, of %d handed over", o.File, len(c.shm.files))}
	}
	if o.New {
		m, why, err := c.p.maps.get(fd, c.p.opts.MaxSharedMap)
		if err == nil && uint64(len(m.mem)) < o.Size {
			size := len(m.mem)
			c.p.maps.put(m)
			m, why, err = nil, ShmSeals, fmt.Errorf("memory file of %d bytes, the offer says %d", size, o.Size)
		}
		if err != nil {
			c.p.log.Warn("shm: refused the receiver's memory file; this connection sends over the stream", "reason", why, "err", err)
			c.shm.on, c.shm.why = false, why
		}
		c.shm.files = append(c.shm.files, m) // nil if refused
	}
	return o, nil
}

// copyInto copies payload into the offered place of its file, which must
// hold it whole; a fault (the file not what it said) is an error, not a
// crash.
func (c *clientConn) copyInto(o wire.ShmOffer, payload []byte) (why string, err error) {
	m := c.shm.files[o.File]
	if m == nil {
		return c.shm.why, errors.New("the file was refused")
	}
	n := uint64(len(payload))
	if o.Offset > uint64(len(m.mem)) || n > uint64(len(m.mem))-o.Offset {
		return ShmMap, fmt.Errorf("offer places %d bytes at %d, past the file's %d", n, o.Offset, len(m.mem))
	}
	defer func() {
		if r := recover(); r != nil {
			why, err = ShmFault, fmt.Errorf("copy into the memory file faulted: %v", r)
			c.shm.on, c.shm.why = false, ShmFault
		}
	}()
	old := debug.SetPanicOnFault(true)
	defer debug.SetPanicOnFault(old)
	dst := m.mem[o.Offset : o.Offset+n]
	if h := shmCopyHook.Load(); h != nil {
		half := copy(dst[:n/2], payload)
		(*h)()
		copy(dst[half:], payload[half:])
		return "", nil
	}
	copy(dst, payload)
	return "", nil
}

// parseRights returns the file descriptors of SCM_RIGHTS messages in oob.
func parseRights(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var fds []int
	for _, m := range msgs {
		f, err := unix.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		fds = append(fds, f...)
	}
	return fds, nil
}

func closeFD(fd *int) {
	if *fd >= 0 {
		unix.Close(*fd)
		*fd = -1
	}
}
