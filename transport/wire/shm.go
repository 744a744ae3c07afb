package wire

import (
	"encoding/binary"
	"fmt"
)

// The shm path (docs/PROTOCOL.md "Shared memory"): a DATA frame with
// FlagShm carries no payload bytes; its receiver answers with a SHM_OFFER
// saying where in its function's memory file the payload goes (and hands
// the file over SCM_RIGHTS the first time on the connection), or that the
// bytes must come over the stream; the sender answers with a SHM_DONE,
// empty once it has copied the payload into the file, carrying the
// payload otherwise. Then REPLY, HOPS and ACK follow as for any DATA
// frame.
const (
	// KindShmOffer answers a DATA frame with FlagShm: no name, a payload of
	// ShmOfferSize bytes ([ShmOffer]), the DATA frame's id, status 0.
	KindShmOffer Kind = 7
	// KindShmDone answers a SHM_OFFER: no name, the DATA frame's id, and
	// in status ShmCopied (no payload: it is in the file) or ShmStream
	// (the DATA frame's payload, payload_len bytes of it, with FlagCRC and
	// its CRC if the DATA frame had them).
	KindShmDone Kind = 8
)

// FlagShm on a DATA frame says that its payload_len bytes do not follow:
// the receiver says where they go in a SHM_OFFER. A sender sets it only on
// a unix connection whose listener's HELLO had HelloShm. DATA frames only.
const FlagShm Flags = 1 << 4

// HelloShm is 1 byte, 1: the listener takes DATA frames with FlagShm on
// this connection. It is said only in the authenticated HELLO's last
// frame, on the unix path.
const HelloShm = 10

// Status values of a SHM_DONE frame.
const (
	ShmCopied = 0 // the payload is in the file, at the offer's offset
	ShmStream = 1 // the payload follows, as the frame's payload
)

// ShmOfferSize is the size of a SHM_OFFER payload.
const ShmOfferSize = 24

// Actions of a SHM_OFFER.
const (
	ShmReady  = 1 // copy the payload into file File at Offset
	ShmToRead = 2 // send the payload over the stream (Reason says why)
)

// Reasons a SHM_OFFER asks for the stream. They are the fallback reasons
// of the shm path's metrics, spelled by ShmReasonName.
const (
	ShmReasonNone      = 0
	ShmReasonNotShared = 1 // the receiving function's memory is not in a shared file (not asked for, or the engine cannot)
	ShmReasonMemfd     = 2 // the system refused the receiver its memory file (memfd_create, seccomp)
	ShmReasonOutside   = 3 // the receiver's buffer lies outside the file (an instance whose memory could not be placed there)
	shmReasonCount     = 4
)

// ShmReasonName is the metric label of a SHM_OFFER's reason.
func ShmReasonName(r uint8) string {
	switch r {
	case ShmReasonNotShared:
		return "not_shared"
	case ShmReasonMemfd:
		return "memfd"
	case ShmReasonOutside:
		return "outside"
	}
	return "none"
}

// ShmOffer is a SHM_OFFER's payload. Its layout, little-endian:
//
//	offset  0  action  u8   ShmReady or ShmToRead
//	offset  1  reason  u8   ShmToRead: why (ShmReason...); ShmReady: 0
//	offset  2  new     u8   1: the file is handed over with this frame (SCM_RIGHTS); else 0
//	offset  3  zero    u8
//	offset  4  file    u32  the file's number on this connection, from 0, in the order handed over
//	offset  8  size    u64  new: the file's size; else 0
//	offset 16  offset  u64  ShmReady: where the payload goes in the file
type ShmOffer struct {
	Action uint8
	Reason uint8
	New    bool
	File   uint32
	Size   uint64
	Offset uint64
}

// Put encodes o into b, which must be ShmOfferSize bytes or more.
func (o *ShmOffer) Put(b []byte) {
	_ = b[ShmOfferSize-1]
	b[0], b[1], b[2], b[3] = o.Action, o.Reason, 0, 0
	if o.New {
		b[2] = 1
	}
	binary.LittleEndian.PutUint32(b[4:], o.File)
	binary.LittleEndian.PutUint64(b[8:], o.Size)
	binary.LittleEndian.PutUint64(b[16:], o.Offset)
}

// ParseShmOffer decodes and checks a SHM_OFFER payload for a payload of n
// bytes: a ready offer must place [Offset, Offset+n) inside a new file's
// Size (the sender checks it against the size of the file it mapped); a
// stream offer carries no file, size or offset.
func ParseShmOffer(b []byte, n uint64) (ShmOffer, error) {
	if len(b) != ShmOfferSize {
		return ShmOffer{}, &FrameError{Field: "payload", Reason: fmt.Sprintf("SHM_OFFER of %d bytes, want %d", len(b), ShmOfferSize)}
	}
	o := ShmOffer{
		Action: b[0], Reason: b[1], New: b[2] == 1,
		File:   binary.LittleEndian.Uint32(b[4:]),
		Size:   binary.LittleEndian.Uint64(b[8:]),
		Offset: binary.LittleEndian.Uint64(b[16:]),
	}
	bad := func(why string) (ShmOffer, error) {
		return ShmOffer{}, &FrameError{Field: "payload", Reason: "SHM_OFFER " + why}
	}
	switch {
	case b[2] > 1 || b[3] != 0:
		return bad("with a bad flag byte")
	case o.Action == ShmToRead:
		if o.Reason == ShmReasonNone || o.Reason >= shmReasonCount || o.New || o.File != 0 || o.Size != 0 || o.Offset != 0 {
			return bad("to read with a file, a size, an offset or no known reason")
		}
	case o.Action == ShmReady:
		if o.Reason != 0 {
			return bad("ready with a reason")
		}
		if o.New != (o.Size != 0) {
			return bad("with a size but no new file, or a new file of no size")
		}
		if o.Offset+n < o.Offset || o.New && (n > o.Size || o.Offset > o.Size-n) {
			return bad(fmt.Sprintf("placing %d bytes at %d, past the file's %d", n, o.Offset, o.Size))
		}
	default:
		return bad(fmt.Sprintf("action %d", o.Action))
	}
	return o, nil
}
