package bpf

import (
	"errors"
	"net/netip"
)

// ErrNotSupported is wrapped by every error that says this host or this
// process may not use BPF sockmaps: no CAP_BPF/CAP_NET_ADMIN, no bpffs, a
// kernel without SOCKHASH or sk_msg, a system other than Linux. The errno,
// if any, is wrapped too, so errors.Is(err, unix.EPERM) also holds.
// Callers fall back to plain TCP.
//
// errors.Is(ErrNotSupported, errors.ErrUnsupported) holds too: that is
// the not-supported sentinel of internal/ring, so one check covers both
// (docs/RATIONALE.md, "Not supported off Linux").
var ErrNotSupported error = notSupported{}

type notSupported struct{}

func (notSupported) Error() string { return "bpf sockmap not supported" }

// Is makes ErrNotSupported match errors.ErrUnsupported.
func (notSupported) Is(target error) bool { return target == errors.ErrUnsupported }

// DefaultPinDir is where [Load] pins the program and its maps by default.
const DefaultPinDir = "/sys/fs/bpf/roadrunner"

// Options configures [Load]; nil means the defaults.
type Options struct {
	// PinDir is the bpffs directory of the pins, created with mode 0700
	// if missing; "" means DefaultPinDir. Every process that should share
	// the map must use the same directory. When it lies under
	// /sys/fs/bpf and bpffs is not mounted there, Load mounts it.
	PinDir string
}

// Key is one end's view of a TCP/IPv4 connection: the key under which
// [Sockmap.Add] inserts its socket.
type Key struct {
	Local, Remote netip.AddrPort
}

// Reverse is the key of the connection's other end.
func (k Key) Reverse() Key { return Key{Local: k.Remote, Remote: k.Local} }

// String is "local->remote".
func (k Key) String() string { return k.Local.String() + "->" + k.Remote.String() }
