package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"

	"github.com/roadrunner-wasm/roadrunner/abi"
)

// HeaderSize is the size of a frame header in bytes. The layout, all fields
// little-endian, is documented in docs/PROTOCOL.md:
//
//	offset  0  magic        u32  "RRF1"
//	offset  4  kind         u8
//	offset  5  flags        u8
//	offset  6  name_len     u16
//	offset  8  payload_len  u64
//	offset 16  id           u64
//	offset 24  crc32c       u32
//	offset 28  status       u32
const HeaderSize = 32

// Magic is the first four bytes of every frame, "RRF1", as a little-endian u32.
const Magic uint32 = 'R' | 'R'<<8 | 'F'<<16 | '1'<<24

const (
	// MaxNameLen is the longest function name, as node's configuration allows
	// it: 1 to 64 of A-Z a-z 0-9 . _ -.
	MaxNameLen = 64
	// DefaultMaxPayload is the payload limit of zero [Limits]: node's default
	// max_payload.
	DefaultMaxPayload = 256 << 20
	// MaxPayloadLimit is one more than the largest payload_len any frame may
	// carry, whatever the [Limits]: ABI lengths are u32.
	MaxPayloadLimit = 1 << 32
	// MaxHelloPayload is the largest payload of a HELLO frame.
	MaxHelloPayload = 256
	// MaxDepth is the largest chain depth a DATA frame's status may carry.
	MaxDepth = 1 << 16
)

// Kind is the kind of a frame.
type Kind uint8

const (
	// KindData carries a payload for the function it names.
	KindData Kind = 1
	// KindAck answers one DATA frame: it carries that frame's id and an ABI
	// code in status, and neither name nor payload.
	KindAck Kind = 2
	// KindHello opens a connection: each end says what it is (its host,
	// its sockmap; [Hello] is the payload's codec), before any DATA frame.
	// No name, a payload of at most MaxHelloPayload bytes, status 0. Only
	// a connection's first frame may be a HELLO.
	KindHello Kind = 3
	// KindReply carries the answer of the function a DATA frame reached
	// (its guest's reply) back to that frame's sender, before the ACK: no
	// name, a payload within the limits of a DATA payload, the DATA frame's
	// id, status 0. Only a DATA frame with FlagReply may be answered by one.
	KindReply Kind = 4
	// KindDirectory carries a [Directory]: no name, a payload of at most
	// MaxDirectoryPayload bytes, status 0. A dialer sends one only on a
	// connection whose listener's HELLO had HelloDirectory, and the
	// listener answers it with its own DIRECTORY frame, of the same id.
	// A node that knows no such kind refuses it as a bad frame.
	KindDirectory Kind = 5
	// KindHops carries the hops the receiver of a DATA frame with FlagHops
	// made, back to its sender, before the ACK: no name, at most
	// MaxHopsPayload bytes (their encoding is the application's), the DATA
	// frame's id, status 0.
	KindHops Kind = 6
)

func (k Kind) String() string {
	switch k {
	case KindData:
		return "DATA"
	case KindAck:
		return "ACK"
	case KindHello:
		return "HELLO"
	case KindReply:
		return "REPLY"
	case KindDirectory:
		return "DIRECTORY"
	case KindHops:
		return "HOPS"
	case KindShmOffer:
		return "SHM_OFFER"
	case KindShmDone:
		return "SHM_DONE"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Flags are the flag bits of a frame. A bit not defined here is an error.
type Flags uint8

const (
	// FlagCRC says that the header's CRC field holds the CRC32C (Castagnoli)
	// of the payload, which the receiver checks before the payload is handed
	// to a guest. DATA frames only.
	FlagCRC Flags = 1 << 0
	// FlagReply says that the sender of a DATA frame takes a reply: the
	// receiving function's reply comes back in a REPLY frame before the
	// ACK. Without it, the function's reply fails with no_invocation.
	// DATA frames only.
	FlagReply Flags = 1 << 1
	// FlagClose on an ACK says that the receiver closes the connection
	// after it: it refused the frame before reading its payload, so the
	// stream cannot carry another frame. ACK frames only.
	FlagClose Flags = 1 << 2
	// FlagHops says that the sender of a DATA frame takes the hops its
	// receiver makes, in a HOPS frame before the ACK. A sender sets it
	// only on a connection whose listener's HELLO had HelloDirectory.
	// DATA frames only.
	FlagHops Flags = 1 << 3

	knownFlags = FlagCRC | FlagReply | FlagClose | FlagHops | FlagShm | FlagTrace
)

// Header is a decoded frame header. The magic is implied.
type Header struct {
	Kind       Kind
	Flags      Flags
	NameLen    uint16 // bytes of the target name that follow the header (DATA only)
	PayloadLen uint64 // bytes of payload that follow the name (and the trace context, with FlagTrace)
	ID         uint64 // chosen by the sender of a DATA frame, echoed by its ACK
	CRC        uint32 // CRC32C of the payload if Flags has FlagCRC, else 0
	// Status is, on an ACK, an ABI code (abi.Code, docs/ABI.md): 0 or a
	// code of the table, sent as a u32 in two's complement; callers
	// convert with int32(code) and abi.Code(status). On a DATA frame it is
	// the depth of the sender's chain, 0 to MaxDepth (0: not said; a
	// sender says it only to a listener whose HELLO had HelloDirectory).
	// It is 0 in the other frames.
	Status int32
}

// NewAck returns the ACK of the DATA frame numbered id, carrying status, an
// ABI code: int32(abi.CodeOf(err)).
func NewAck(id uint64, status int32) Header {
	return Header{Kind: KindAck, ID: id, Status: status}
}

// Put encodes h into the first HeaderSize bytes of b, as it is, valid or
// not: a receiver validates. It panics if b is shorter than HeaderSize and
// does not allocate.
func (h *Header) Put(b []byte) {
	_ = b[HeaderSize-1]
	binary.LittleEndian.PutUint32(b[0:], Magic)
	b[4] = byte(h.Kind)
	b[5] = byte(h.Flags)
	binary.LittleEndian.PutUint16(b[6:], h.NameLen)
	binary.LittleEndian.PutUint64(b[8:], h.PayloadLen)
	binary.LittleEndian.PutUint64(b[16:], h.ID)
	binary.LittleEndian.PutUint32(b[24:], h.CRC)
	binary.LittleEndian.PutUint32(b[28:], uint32(h.Status))
}

// AppendHeader appends the encoding of h to b, as Put writes it.
func AppendHeader(b []byte, h *Header) []byte {
	n := len(b)
	b = slices.Grow(b, HeaderSize)[:n+HeaderSize]
	h.Put(b[n:])
	return b
}

// Limits bound what a receiver accepts, checked from the header alone before
// anything is allocated for the frame. The zero value means the defaults.
type Limits struct {
	// MaxPayload is the largest payload_len of a DATA frame. Zero means
	// DefaultMaxPayload; a frame at or above MaxPayloadLimit (4 GiB) is
	// refused whatever this says.
	MaxPayload uint64
	// MaxName is the longest name_len of a DATA frame. Zero or negative
	// means MaxNameLen. The name itself must also pass ValidName, which
	// caps it at MaxNameLen: a larger MaxName only moves where a long name
	// is refused.
	MaxName int
}

func (l Limits) maxPayload() uint64 {
	if l.MaxPayload == 0 {
		return DefaultMaxPayload
	}
	return l.MaxPayload
}

func (l Limits) maxName() int {
	if l.MaxName <= 0 {
		return MaxNameLen
	}
	return l.MaxName
}

// ErrBadFrame is matched (errors.Is) by every error that means the peer sent
// something that is not a valid frame, truncated frames included. A receiver
// closes the connection on it and delivers nothing of that frame.
var ErrBadFrame = errors.New("bad frame")

// FrameError says which field of a frame is wrong and why. It matches
// ErrBadFrame; a truncated frame's error also wraps io.ErrUnexpectedEOF.
// The errors of this package's parsers are prebuilt and shared: do not
// modify them.
type FrameError struct {
	Field  string // "header", "magic", "kind", "flags", "name_len", "payload_len", "crc32c", "status", "name", "trace" or "payload"
	Reason string
	Err    error // the cause, if any: io.ErrUnexpectedEOF for truncation
}

func (e *FrameError) Error() string {
	s := "bad frame: " + e.Field + ": " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is reports whether target is ErrBadFrame.
func (e *FrameError) Is(target error) bool { return target == ErrBadFrame }

func (e *FrameError) Unwrap() error { return e.Err }

// Prebuilt errors: a stream of garbage costs no allocation to refuse.
var (
	errHeaderShort     = &FrameError{Field: "header", Reason: "truncated", Err: io.ErrUnexpectedEOF}
	errMagic           = &FrameError{Field: "magic", Reason: `not "RRF1"`}
	errKind            = &FrameError{Field: "kind", Reason: "unknown"}
	errFlags           = &FrameError{Field: "flags", Reason: "unknown bit set"}
	errFlagsCRC        = &FrameError{Field: "flags", Reason: "crc flag on a frame other than DATA"}
	errFlagsReply      = &FrameError{Field: "flags", Reason: "reply flag on a frame other than DATA"}
	errFlagsClose      = &FrameError{Field: "flags", Reason: "close flag on a frame other than ACK"}
	errNameReply       = &FrameError{Field: "name_len", Reason: "not zero on REPLY"}
	errStatusReply     = &FrameError{Field: "status", Reason: "not zero on REPLY"}
	errNameEmpty       = &FrameError{Field: "name_len", Reason: "zero on DATA"}
	errNameLong        = &FrameError{Field: "name_len", Reason: "over the limit"}
	errNameAck         = &FrameError{Field: "name_len", Reason: "not zero on ACK"}
	errNameHello       = &FrameError{Field: "name_len", Reason: "not zero on HELLO"}
	errPayload4G       = &FrameError{Field: "payload_len", Reason: "not under 4 GiB (ABI lengths are u32)"}
	errPayloadLong     = &FrameError{Field: "payload_len", Reason: "over the limit"}
	errPayloadAck      = &FrameError{Field: "payload_len", Reason: "not zero on ACK"}
	errPayloadHello    = &FrameError{Field: "payload_len", Reason: "over 256 on HELLO"}
	errCRCUnflagged    = &FrameError{Field: "crc32c", Reason: "not zero without the crc flag"}
	errStatusData      = &FrameError{Field: "status", Reason: "not a depth (0 to 65536) on DATA"}
	errFlagsHops       = &FrameError{Field: "flags", Reason: "hops flag on a frame other than DATA"}
	errFlagsShm        = &FrameError{Field: "flags", Reason: "shm flag on a frame other than DATA"}
	errNameShm         = &FrameError{Field: "name_len", Reason: "not zero on SHM_OFFER or SHM_DONE"}
	errStatusShm       = &FrameError{Field: "status", Reason: "not 0 on SHM_OFFER, or neither copied nor stream on SHM_DONE"}
	errPayloadShmOffer = &FrameError{Field: "payload_len", Reason: "SHM_OFFER payload is not 24 bytes"}
	errPayloadShmDone  = &FrameError{Field: "payload_len", Reason: "a payload or a CRC on a SHM_DONE that says copied"}
	errNameOther       = &FrameError{Field: "name_len", Reason: "not zero on DIRECTORY or HOPS"}
	errPayloadDir      = &FrameError{Field: "payload_len", Reason: "over the limit of DIRECTORY or HOPS"}
	errStatusOther     = &FrameError{Field: "status", Reason: "not zero on DIRECTORY or HOPS"}
	errStatusHello     = &FrameError{Field: "status", Reason: "not zero on HELLO"}
	errStatusAck       = &FrameError{Field: "status", Reason: "not a code of ABI version 1"}
	errNameShort       = &FrameError{Field: "name", Reason: "truncated", Err: io.ErrUnexpectedEOF}
	errNameBytes       = &FrameError{Field: "name", Reason: "not 1 to 64 of A-Z a-z 0-9 . _ -"}
	errPayloadShort    = &FrameError{Field: "payload", Reason: "truncated", Err: io.ErrUnexpectedEOF}
	errPayloadCRC      = &FrameError{Field: "payload", Reason: "crc32c mismatch"}
)

// ParseHeader decodes and validates the frame header at the start of b. It
// checks everything the header alone can tell, in this order, and reports
// the first failure as a *FrameError:
//
//  1. b holds HeaderSize bytes (else the error wraps io.ErrUnexpectedEOF);
//  2. magic is "RRF1";
//  3. kind is DATA, ACK, HELLO, REPLY, DIRECTORY or HOPS;
//  4. flags has no unknown bit, FlagCRC, FlagReply, FlagHops, FlagShm and
//     FlagTrace only on DATA (FlagCRC also on SHM_DONE), FlagClose only on
//     ACK;
//  5. name_len: 1 to lim's MaxName on DATA, 0 otherwise;
//  6. payload_len: on DATA and REPLY under 4 GiB and at most lim's
//     MaxPayload, 0 on ACK, at most MaxHelloPayload on HELLO,
//     MaxDirectoryPayload on DIRECTORY, MaxHopsPayload on HOPS;
//  7. crc32c is 0 unless FlagCRC is set;
//  8. status: an ABI code (0 or a defined negative code) on ACK, a depth
//     (0 to MaxDepth) on DATA, 0 otherwise.
//
// The name's bytes, the trace context, whether the target exists, and the
// payload's CRC are the caller's to check, with ReadName,
// ReadTraceContext, its registry and ReadPayload.
//
// After a failure from step 3 on, the returned Header is the header as
// decoded, for a log line; it must not be acted on. ParseHeader does not
// allocate, whether it succeeds or fails.
func ParseHeader(b []byte, lim Limits) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, errHeaderShort
	}
	if binary.LittleEndian.Uint32(b) != Magic {
		return Header{}, errMagic
	}
	h := Header{
		Kind:       Kind(b[4]),
		Flags:      Flags(b[5]),
		NameLen:    binary.LittleEndian.Uint16(b[6:]),
		PayloadLen: binary.LittleEndian.Uint64(b[8:]),
		ID:         binary.LittleEndian.Uint64(b[16:]),
		CRC:        binary.LittleEndian.Uint32(b[24:]),
		Status:     int32(binary.LittleEndian.Uint32(b[28:])),
	}
	return h, h.Validate(lim)
}

// Validate checks h as ParseHeader does (steps 3 to 8). A sender may call it
// before writing a frame, to fail locally rather than have the peer close
// the connection.
func (h *Header) Validate(lim Limits) error {
	if h.Kind < KindData || h.Kind > KindShmDone {
		return errKind
	}
	if h.Flags&^knownFlags != 0 {
		return errFlags
	}
	if h.Flags&FlagCRC != 0 && h.Kind != KindData && h.Kind != KindShmDone {
		return errFlagsCRC
	}
	if h.Flags&FlagReply != 0 && h.Kind != KindData {
		return errFlagsReply
	}
	if h.Flags&FlagClose != 0 && h.Kind != KindAck {
		return errFlagsClose
	}
	if h.Flags&FlagHops != 0 && h.Kind != KindData {
		return errFlagsHops
	}
	if h.Flags&FlagShm != 0 && h.Kind != KindData {
		return errFlagsShm
	}
	if h.Flags&FlagTrace != 0 && h.Kind != KindData {
		return errFlagsTrace
	}
	switch h.Kind {
	case KindData:
		switch {
		case h.NameLen == 0:
			return errNameEmpty
		case int(h.NameLen) > lim.maxName():
			return errNameLong
		case h.PayloadLen >= MaxPayloadLimit:
			return errPayload4G
		case h.PayloadLen > lim.maxPayload():
			return errPayloadLong
		case h.Flags&FlagCRC == 0 && h.CRC != 0:
			return errCRCUnflagged
		case h.Status < 0 || h.Status > MaxDepth:
			return errStatusData
		}
	case KindAck:
		switch {
		case h.NameLen != 0:
			return errNameAck
		case h.PayloadLen != 0:
			return errPayloadAck
		case h.CRC != 0:
			return errCRCUnflagged
		case !abi.Code(h.Status).Defined():
			return errStatusAck
		}
	case KindHello:
		switch {
		case h.NameLen != 0:
			return errNameHello
		case h.PayloadLen > MaxHelloPayload:
			return errPayloadHello
		case h.CRC != 0:
			return errCRCUnflagged
		case h.Status != 0:
			return errStatusHello
		}
	case KindReply:
		switch {
		case h.NameLen != 0:
			return errNameReply
		case h.PayloadLen >= MaxPayloadLimit:
			return errPayload4G
		case h.PayloadLen > lim.maxPayload():
			return errPayloadLong
		case h.CRC != 0:
			return errCRCUnflagged
		case h.Status != 0:
			return errStatusReply
		}
	case KindShmOffer:
		switch {
		case h.NameLen != 0:
			return errNameShm
		case h.PayloadLen != ShmOfferSize:
			return errPayloadShmOffer
		case h.CRC != 0:
			return errCRCUnflagged
		case h.Status != 0:
			return errStatusShm
		}
	case KindShmDone:
		switch {
		case h.NameLen != 0:
			return errNameShm
		case h.Status != ShmCopied && h.Status != ShmStream:
			return errStatusShm
		case h.Status == ShmCopied && (h.PayloadLen != 0 || h.Flags&FlagCRC != 0):
			return errPayloadShmDone
		case h.PayloadLen >= MaxPayloadLimit:
			return errPayload4G
		case h.PayloadLen > lim.maxPayload():
			return errPayloadLong
		case h.Flags&FlagCRC == 0 && h.CRC != 0:
			return errCRCUnflagged
		}
	case KindDirectory, KindHops:
		limit := uint64(MaxDirectoryPayload)
		if h.Kind == KindHops {
			limit = MaxHopsPayload
		}
		switch {
		case h.NameLen != 0:
			return errNameOther
		case h.PayloadLen > limit:
			return errPayloadDir
		case h.CRC != 0:
			return errCRCUnflagged
		case h.Status != 0:
			return errStatusOther
		}
	}
	return nil
}

// ValidName reports whether b is a function name as node's configuration
// defines it: 1 to MaxNameLen bytes of A-Z a-z 0-9 . _ - (the regular
// expression ^[A-Za-z0-9._-]{1,64}$).
func ValidName(b []byte) bool {
	if len(b) == 0 || len(b) > MaxNameLen {
		return false
	}
	for _, c := range b {
		if !nameByte(c) {
			return false
		}
	}
	return true
}

func nameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '.' || c == '_' || c == '-'
}

// ReadHeader reads a frame header from r into buf and validates it as
// ParseHeader does. It returns io.EOF, unwrapped, if r ended before the
// first byte (a peer that closed between frames), a *FrameError wrapping
// io.ErrUnexpectedEOF if r ended inside the header, and r's other errors
// wrapped. buf is the caller's so that a connection reuses one; ReadHeader
// allocates only on r's own errors.
func ReadHeader(r io.Reader, buf *[HeaderSize]byte, lim Limits) (Header, error) {
	if n, err := io.ReadFull(r, buf[:]); err != nil {
		switch {
		case n == 0 && err == io.EOF:
			return Header{}, io.EOF
		case err == io.ErrUnexpectedEOF:
			return Header{}, errHeaderShort
		}
		return Header{}, fmt.Errorf("read frame header: %w", err)
	}
	return ParseHeader(buf[:], lim)
}

// ReadName reads the h.NameLen bytes of target name that follow a header
// validated by ReadHeader or ParseHeader, into dst's memory if it has the
// capacity (a [MaxNameLen]byte array does), and checks them with ValidName.
// The result is a view of dst, not a copy. It returns an empty name for a
// frame without one. A name cut short is a *FrameError wrapping
// io.ErrUnexpectedEOF.
func ReadName(r io.Reader, h Header, dst []byte) ([]byte, error) {
	n := int(h.NameLen)
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	dst = dst[:n:n]
	if n == 0 {
		return dst, nil
	}
	if _, err := io.ReadFull(r, dst); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, errNameShort
		}
		return nil, fmt.Errorf("read frame name: %w", err)
	}
	if !ValidName(dst) {
		return nil, errNameBytes
	}
	return dst, nil
}

// crcChunk is how much of a payload ReadPayload reads before it folds those
// bytes into the CRC: small enough that they are still in cache.
const crcChunk = 256 << 10

var errPayloadView = errors.New("read frame payload: view length differs from payload_len")

// ErrPayloadTruncated is the *FrameError of a payload cut short: the
// stream ended before payload_len bytes arrived. It wraps
// io.ErrUnexpectedEOF. A reader of payloads other than ReadPayload (one
// that receives through io_uring, say) returns it for the same failure.
var ErrPayloadTruncated error = errPayloadShort

// CheckPayload checks a payload received by other means than ReadPayload
// as ReadPayload does: p must be exactly h.PayloadLen bytes and, if h has
// FlagCRC, match its CRC32C.
func CheckPayload(h Header, p []byte) error {
	if uint64(len(p)) != h.PayloadLen {
		return errPayloadView
	}
	if h.Flags&FlagCRC != 0 && Checksum(p) != h.CRC {
		return errPayloadCRC
	}
	return nil
}

// ReadPayload reads the payload that follows the name straight into dst,
// which must be exactly h.PayloadLen bytes, and, if h has FlagCRC, checks
// its CRC32C before returning. It is meant as the fill function of
// Sink.Deliver, with dst the receiver's view: on any error the receiver's
// handler is not called, so nothing partial or corrupt reaches it. dst may
// hold partial bytes after an error. A payload cut short is a *FrameError
// wrapping io.ErrUnexpectedEOF; a CRC mismatch is a *FrameError.
// ReadPayload does not allocate except on r's own errors.
func ReadPayload(r io.Reader, h Header, dst []byte) error {
	if uint64(len(dst)) != h.PayloadLen {
		return errPayloadView
	}
	if h.Flags&FlagCRC == 0 {
		return readPayload(r, dst)
	}
	var crc uint32
	for p := dst; len(p) > 0; {
		n := min(len(p), crcChunk)
		if err := readPayload(r, p[:n]); err != nil {
			return err
		}
		crc = crc32.Update(crc, castagnoli, p[:n])
		p = p[n:]
	}
	if crc != h.CRC {
		return errPayloadCRC
	}
	return nil
}

func readPayload(r io.Reader, dst []byte) error {
	if _, err := io.ReadFull(r, dst); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return errPayloadShort
		}
		return fmt.Errorf("read frame payload: %w", err)
	}
	return nil
}

// castagnoli is the CRC32C table, made once; hash/crc32 uses the CPU's
// CRC32 instructions with it where there are some.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum returns the CRC32C (Castagnoli) of p: what a sender puts in the
// CRC field of a DATA frame with FlagCRC.
func Checksum(p []byte) uint32 { return crc32.Checksum(p, castagnoli) }
