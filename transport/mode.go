package transport

import (
	"fmt"
	"strings"
)

// Path is the way a payload travels from a sender to a receiver. Its
// String is the path label of metrics and the path field of a trace.
type Path uint8

// The paths, nearest first.
const (
	PathMemory Path = iota // same process: one copy from the sender's memory into the receiver's
	PathHTTP               // HTTP ingress: the request body read into the receiver's memory
	PathUnix               // a peer node on this host, over a UNIX domain socket
	PathTCP                // a peer node anywhere, over TCP
)

var pathNames = [...]string{PathMemory: "memory", PathHTTP: "http", PathUnix: "unix", PathTCP: "tcp"}

// Paths lists every path, in the order of their values.
func Paths() []Path { return []Path{PathMemory, PathHTTP, PathUnix, PathTCP} }

func (p Path) String() string {
	if int(p) < len(pathNames) {
		return pathNames[p]
	}
	return fmt.Sprintf("Path(%d)", uint8(p))
}

// ParsePath parses a path's name: memory, http, unix or tcp.
func ParsePath(s string) (Path, error) {
	for i, name := range pathNames {
		if s == name {
			return Path(i), nil
		}
	}
	return 0, fmt.Errorf("path %q: want memory, http, unix or tcp", s)
}

// Mechanism is how a payload is moved over a path: what a user chooses for
// the tcp path ([MechanismAuto], [MechanismWrite], [MechanismSplice]), and
// what reports say carried a transfer (all of them but auto). Its String is
// the mechanism label of metrics.
type Mechanism uint8

const (
	// MechanismAuto chooses per peer: write if the peer is reached through
	// a virtual link (loopback, veth, a bridge), where splice was measured
	// costlier; through a physical NIC it measures both mechanisms on the
	// peer's first large transfers and keeps the cheaper in sender CPU per
	// byte. It is a choice, never what carried a transfer.
	MechanismAuto Mechanism = iota
	// MechanismWrite writes the header, name and payload with writev, the
	// payload in chunks of [DialOptions].ChunkSize (the tcp path).
	MechanismWrite
	// MechanismSplice moves the payload with vmsplice into a pipe the
	// connection owns, then splice from the pipe into the socket, a pipe's
	// worth at a time: the kernel references the guest's pages instead of
	// copying them into the socket. Where the kernel or a seccomp filter
	// refuses it, the transfer falls back to writev (and says write).
	MechanismSplice
	// MechanismWritev is the unix path's send: one writev of the header,
	// name and payload.
	MechanismWritev
	// MechanismIOURing is a send or a receive submitted through the
	// connection's io_uring ([DialOptions].IOURing, [ServerOptions].IOURing).
	MechanismIOURing
	// MechanismRead is a receiver reading a payload from its socket (or an
	// HTTP body) into the receiver's view with plain read calls.
	MechanismRead
	// MechanismCopy is the memory path's one copy.
	MechanismCopy
	// MechanismNone is what a transfer that failed before anything
	// carried its payload reports: no connection, a context ended first.
	MechanismNone
	// MechanismShm is the shm path's one copy, by the sender, straight
	// into the receiver's memory file ([DialOptions].SharedMemory).
	MechanismShm
)

var mechanismNames = [...]string{
	MechanismAuto:    "auto",
	MechanismWrite:   "write",
	MechanismSplice:  "splice",
	MechanismWritev:  "writev",
	MechanismIOURing: "iouring",
	MechanismRead:    "read",
	MechanismCopy:    "copy",
	MechanismNone:    "none",
	MechanismShm:     "shm",
}

// Mechanisms lists every mechanism, in the order of their values.
func Mechanisms() []Mechanism {
	ms := make([]Mechanism, len(mechanismNames))
	for i := range ms {
		ms[i] = Mechanism(i)
	}
	return ms
}

func (m Mechanism) String() string {
	if int(m) < len(mechanismNames) {
		return mechanismNames[m]
	}
	return fmt.Sprintf("Mechanism(%d)", uint8(m))
}

// ParseMechanism parses a send mechanism a user may choose for the tcp
// path: auto (or ""), write or splice. The others are reported, not
// chosen.
func ParseMechanism(s string) (Mechanism, error) {
	switch s {
	case "", "auto":
		return MechanismAuto, nil
	case "write":
		return MechanismWrite, nil
	case "splice":
		return MechanismSplice, nil
	}
	return 0, fmt.Errorf("mechanism %q: want auto, write or splice", s)
}

// Set parses s into m, for flags (pflag.Value, flag.Value).
func (m *Mechanism) Set(s string) error {
	v, err := ParseMechanism(s)
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// Type names the flag's values in help texts (pflag.Value).
func (*Mechanism) Type() string { return "auto|write|splice" }

// Accels is a set of accelerators of the unix and tcp paths, or the
// choice to let the system decide ([AccelAuto]). The zero value is
// [AccelNone]. Its String is what --accel takes, and a single
// accelerator's String is the accel label of the fallback metrics.
type Accels uint8

const (
	// AccelIOURing submits the unix and tcp paths' sends and receives
	// through io_uring (Linux 5.19).
	AccelIOURing Accels = 1 << iota
	// AccelSockmap redirects tcp connections between nodes of one host
	// through the host's eBPF sockmap (Linux 5.16, CAP_BPF and
	// CAP_NET_ADMIN).
	AccelSockmap
	// AccelAuto leaves the choice to the node: what was measured to win
	// where the system allows it. It is not combined with the others.
	AccelAuto
	// AccelShm moves payloads between authenticated nodes of one host
	// through the receiving function's memory file: one copy
	// ([DialOptions].SharedMemory, [ServerOptions].SharedMemory).
	AccelShm

	// AccelNone uses plain system calls.
	AccelNone Accels = 0
)

// Has reports whether a holds every accelerator of x.
func (a Accels) Has(x Accels) bool { return a&x == x && x != 0 }

func (a Accels) String() string {
	switch a { // the values in use, without allocating: fallbacks name theirs per transfer
	case AccelNone:
		return "none"
	case AccelAuto:
		return "auto"
	case AccelIOURing:
		return "iouring"
	case AccelSockmap:
		return "sockmap"
	case AccelIOURing | AccelSockmap:
		return "iouring,sockmap"
	case AccelShm:
		return "shm"
	}
	var names []string
	if a.Has(AccelIOURing) {
		names = append(names, "iouring")
	}
	if a.Has(AccelSockmap) {
		names = append(names, "sockmap")
	}
	if a.Has(AccelShm) {
		names = append(names, "shm")
	}
	if rest := a &^ (AccelIOURing | AccelSockmap | AccelShm); rest != 0 {
		names = append(names, fmt.Sprintf("Accels(%#x)", uint8(rest)))
	}
	return strings.Join(names, ",")
}

// ParseAccels parses an accelerator choice: auto (or ""), none, or a
// comma-separated list of iouring, sockmap and shm.
func ParseAccels(s string) (Accels, error) {
	switch s {
	case "", "auto":
		return AccelAuto, nil
	case "none":
		return AccelNone, nil
	}
	var a Accels
	for _, name := range strings.Split(s, ",") {
		switch name {
		case "iouring":
			a |= AccelIOURing
		case "sockmap":
			a |= AccelSockmap
		case "shm":
			a |= AccelShm
		default:
			return 0, fmt.Errorf("accel %q: want auto, none, or a comma-separated list of iouring, sockmap and shm", s)
		}
	}
	return a, nil
}

// Set parses s into a, for flags (pflag.Value, flag.Value).
func (a *Accels) Set(s string) error {
	v, err := ParseAccels(s)
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// Type names the flag's values in help texts (pflag.Value).
func (*Accels) Type() string { return "auto|none|iouring,sockmap,shm" }

// MarshalText encodes p as its name, so that JSON and logs spell it.
func (p Path) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText parses a path's name.
func (p *Path) UnmarshalText(b []byte) error {
	v, err := ParsePath(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// MarshalText encodes m as its name, so that JSON and logs spell it.
func (m Mechanism) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText parses a mechanism a user may choose (ParseMechanism).
func (m *Mechanism) UnmarshalText(b []byte) error { return m.Set(string(b)) }

// MarshalText encodes a as --accel spells it.
func (a Accels) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText parses an accelerator choice (ParseAccels).
func (a *Accels) UnmarshalText(b []byte) error { return a.Set(string(b)) }
