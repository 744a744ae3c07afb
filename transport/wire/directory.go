package wire

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
)

// DirectoryVersion is the version of the cluster directory this package
// speaks (the HelloDirectory option's value, the first byte of a DIRECTORY
// payload).
const DirectoryVersion = 1

// Limits of a DIRECTORY payload.
const (
	// MaxDirectoryPayload is the largest DIRECTORY payload: room for
	// MaxDirectoryFunctions names of MaxNameLen bytes.
	MaxDirectoryPayload = 72 << 10
	// MaxDirectoryFunctions is the most functions one directory lists.
	MaxDirectoryFunctions = 1024
	// MaxUnixPath is the longest unix socket path a directory carries:
	// sun_path holds 108 bytes with the terminating NUL.
	MaxUnixPath = 107
	// MaxHopsPayload is the largest HOPS payload.
	MaxHopsPayload = 16 << 10
)

// Directory is what a node says about itself to its peers: the payload of
// a DIRECTORY frame (docs/PROTOCOL.md "Directory").
type Directory struct {
	Name     string   // the node's name, a valid name (ValidName)
	Instance [16]byte // random at each start: a restarted node is a new peer
	Host     [16]byte // the node's host identity (boot id), if HasHost
	HasHost  bool
	// Unix is the absolute path of the node's unix socket, "" if it has
	// none: a node of the same host may reach it there.
	Unix string
	// Generation grows each time the node's function list changes.
	Generation uint64
	// Functions are the names of the functions the node hosts, each a
	// valid name, none twice.
	Functions []string
}

// Append appends d's encoding to b:
//
//	version     u8   DirectoryVersion
//	instance    16 bytes
//	has_host    u8   0 or 1
//	host        16 bytes (zero if has_host is 0)
//	generation  u64, little endian
//	name        u8 length, bytes
//	unix        u8 length, bytes
//	count       u16, little endian
//	functions   count times: u8 length, bytes
//
// It does not validate d: ParseDirectory on the receiving end does.
func (d *Directory) Append(b []byte) []byte {
	b = append(b, DirectoryVersion)
	b = append(b, d.Instance[:]...)
	var host [16]byte // zero unless HasHost, as the receiver reads it
	if d.HasHost {
		b, host = append(b, 1), d.Host
	} else {
		b = append(b, 0)
	}
	b = append(b, host[:]...)
	b = binary.LittleEndian.AppendUint64(b, d.Generation)
	b = append(b, byte(len(d.Name)))
	b = append(b, d.Name...)
	b = append(b, byte(len(d.Unix)))
	b = append(b, d.Unix...)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(d.Functions)))
	for _, f := range d.Functions {
		b = append(b, byte(len(f)))
		b = append(b, f...)
	}
	return b
}

// ParseDirectory decodes and validates a DIRECTORY payload. Anything
// wrong (another version, a field cut short or left over, a name that is
// not valid, a relative or overlong unix path, too many functions, one
// twice) is a *FrameError (a bad frame).
func ParseDirectory(b []byte) (Directory, error) {
	var d Directory
	bad := func(reason string) (Directory, error) {
		return Directory{}, &FrameError{Field: "payload", Reason: "DIRECTORY " + reason}
	}
	if len(b) > MaxDirectoryPayload {
		return bad("over the limit")
	}
	const fixed = 1 + 16 + 1 + 16 + 8
	if len(b) < fixed {
		return bad("cut short")
	}
	if b[0] != DirectoryVersion {
		return bad(fmt.Sprintf("version %d, want %d", b[0], DirectoryVersion))
	}
	copy(d.Instance[:], b[1:17])
	switch b[17] {
	case 0:
	case 1:
		d.HasHost = true
		copy(d.Host[:], b[18:34])
	default:
		return bad("has_host not 0 or 1")
	}
	d.Generation = binary.LittleEndian.Uint64(b[34:])
	b = b[fixed:]
	field := func() ([]byte, bool) {
		if len(b) < 1 || len(b) < 1+int(b[0]) {
			return nil, false
		}
		v := b[1 : 1+int(b[0])]
		b = b[1+len(v):]
		return v, true
	}
	name, ok := field()
	if !ok {
		return bad("cut short")
	}
	if !ValidName(name) {
		return bad("name is not a valid name")
	}
	d.Name = string(name)
	unix, ok := field()
	if !ok {
		return bad("cut short")
	}
	if len(unix) > 0 {
		if len(unix) > MaxUnixPath || !filepath.IsAbs(string(unix)) || !printable(unix) {
			return bad("unix is not an absolute path of at most 107 printable bytes")
		}
		d.Unix = string(unix)
	}
	if len(b) < 2 {
		return bad("cut short")
	}
	n := int(binary.LittleEndian.Uint16(b))
	b = b[2:]
	if n > MaxDirectoryFunctions {
		return bad(fmt.Sprintf("%d functions, over %d", n, MaxDirectoryFunctions))
	}
	d.Functions = make([]string, 0, n)
	seen := make(map[string]bool, n)
	for range n {
		f, ok := field()
		if !ok {
			return bad("cut short")
		}
		if !ValidName(f) {
			return bad("function name is not a valid name")
		}
		s := string(f)
		if seen[s] {
			return bad(fmt.Sprintf("function %q twice", s))
		}
		seen[s] = true
		d.Functions = append(d.Functions, s)
	}
	if len(b) != 0 {
		return bad(fmt.Sprintf("%d bytes left over", len(b)))
	}
	return d, nil
}

// printable reports whether b is printable ASCII.
func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}
