//go:build linux

package bpf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// Names of the pins under the pin directory.
const (
	pinSockHash = "sock_hash"
	pinStats    = "redirect_stats"
	pinProgram  = "redirect_peer"
	// lockName is a directory beside the pins whose exclusive flock
	// serialises Load and CloseLast; the pin directory's own flock,
	// shared, marks the open Sockmaps.
	lockName = "lock"
)

// Sockmap is the host's shared SOCKHASH with the redirect program attached,
// as opened by one process. Its methods are safe for concurrent use.
type Sockmap struct {
	pinDir string
	objs   sockmapObjects
	mapID  uint32
	// lock is the pin directory, opened and held under a shared flock
	// while this Sockmap is open: [Sockmap.CloseLast] unpins only when it
	// can turn that into an exclusive lock, that is when no other open
	// Sockmap of the host uses the directory.
	lock int
}

// Load opens the host's sockmap: it reuses the pins under the pin
// directory if they exist, otherwise it loads the program and its maps and
// pins them (mode 0600). Either way the program is attached to the
// SOCKHASH before Load returns, so a socket added later is redirected.
// Concurrent Loads, in this process or others, are serialised by a lock on
// the pin directory.
func Load(opts *Options) (*Sockmap, error) {
	dir := DefaultPinDir
	if opts != nil && opts.PinDir != "" {
		dir = opts.PinDir
	}
	dir = filepath.Clean(dir)
	lockPath := filepath.Join(dir, lockName)
	// A CloseLast of another process may remove the directory between
	// ensureBPFFS and the lock: then the lock is on a removed directory,
	// and Load starts again.
	for attempt := 0; ; attempt++ {
		if err := ensureBPFFS(dir); err != nil {
			return nil, err
		}
		if err := os.Mkdir(lockPath, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("bpf: %w", err)
		}
		lfd, err := lockDir(lockPath, unix.LOCK_EX)
		if err != nil {
			return nil, err
		}
		if ok, err := sameDir(lfd, lockPath); err != nil || !ok {
			unix.Close(lfd)
			if err == nil && attempt < 3 {
				continue
			}
			if err == nil {
				err = fmt.Errorf("bpf: %s keeps being removed while loading", dir)
			}
			return nil, err
		}
		s, err := load(dir)
		if err == nil {
			// This Sockmap is among the directory's users until Close.
			s.lock, err = lockDir(dir, unix.LOCK_SH)
			if err != nil {
				s.objs.Close()
			}
		}
		unix.Close(lfd)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
}

// load does Load's work under the exclusive lock of dir.
func load(dir string) (*Sockmap, error) {
	spec, err := loadSockmap()
	if err != nil {
		return nil, err
	}
	for _, m := range spec.Maps {
		m.Pinning = ebpf.PinByName
	}
	copts := &ebpf.CollectionOptions{Maps: ebpf.MapOptions{PinPath: dir}}

	s := &Sockmap{pinDir: dir, lock: -1}
	if err := spec.LoadAndAssign(&s.objs.sockmapMaps, copts); err != nil {
		return nil, classify("load maps", err)
	}
	prog, err := loadProgram(spec, copts, filepath.Join(dir, pinProgram))
	if err != nil {
		s.objs.sockmapMaps.Close()
		return nil, err
	}
	s.objs.RedirectPeer = prog
	// Attaching again is harmless (the program replaces itself) and repairs
	// a map pinned by a process that died before it attached.
	err = link.RawAttachProgram(link.RawAttachProgramOptions{
		Target:  s.objs.SockHash.FD(),
		Program: prog,
		Attach:  ebpf.AttachSkMsgVerdict,
	})
	if err != nil {
		s.objs.Close()
		return nil, classify("attach sk_msg program", err)
	}
	for _, name := range []string{pinSockHash, pinStats, pinProgram} {
		if err := os.Chmod(filepath.Join(dir, name), 0o600); err != nil {
			s.objs.Close()
			return nil, fmt.Errorf("bpf: %w", err)
		}
	}
	info, err := s.objs.SockHash.Info()
	if err != nil {
		s.objs.Close()
		return nil, classify("map info", err)
	}
	id, _ := info.ID()
	s.mapID = uint32(id)
	return s, nil
}

// loadProgram opens the pinned program at pin, or loads it and pins it
// there.
func loadProgram(spec *ebpf.CollectionSpec, copts *ebpf.CollectionOptions, pin string) (*ebpf.Program, error) {
	prog, err := ebpf.LoadPinnedProgram(pin, nil)
	if err == nil {
		return prog, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, classify("load pinned program", err)
	}
	var progs sockmapPrograms
	if err := spec.LoadAndAssign(&progs, copts); err != nil {
		return nil, classify("load program", err)
	}
	if err := progs.RedirectPeer.Pin(pin); err != nil {
		progs.Close()
		return nil, classify("pin program", err)
	}
	return progs.RedirectPeer, nil
}

// classify wraps err with op and, when it means that BPF is refused here,
// with ErrNotSupported.
func classify(op string, err error) error {
	switch {
	case errors.Is(err, ebpf.ErrNotSupported),
		errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES),
		errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EOPNOTSUPP):
		return fmt.Errorf("bpf: %s: %w: %w", op, ErrNotSupported, err)
	}
	return fmt.Errorf("bpf: %s: %w", op, err)
}

// PinDir returns the directory of the pins.
func (s *Sockmap) PinDir() string { return s.pinDir }

// Add inserts the socket of c, an established TCP/IPv4 connection (IPv4
// in IPv6 too), under its own 4-tuple, and returns that key. From then on
// messages it sends go straight to its peer's receive queue if the peer is
// in the map too, and through TCP otherwise. The kernel removes the socket
// from the map when it is closed.
func (s *Sockmap) Add(c syscall.Conn) (Key, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return Key{}, fmt.Errorf("bpf: add: %w", err)
	}
	var k Key
	cerr := rc.Control(func(fd uintptr) {
		k, err = keyOf(int(fd))
		if err != nil {
			return
		}
		if err = s.objs.SockHash.Update(k.raw(), uint64(fd), ebpf.UpdateAny); err != nil {
			err = classify("add "+k.String(), err)
		}
	})
	if cerr != nil {
		return Key{}, fmt.Errorf("bpf: add: %w", cerr)
	}
	return k, err
}

// Remove takes the socket under k out of the map; its messages go through
// TCP again. A key that is not in the map (its socket closed, say) is not
// an error.
func (s *Sockmap) Remove(k Key) error {
	err := s.objs.SockHash.Delete(k.raw())
	if err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("bpf: remove %s: %w", k, err)
	}
	return nil
}

// Stats returns the messages redirected, and their bytes, since the
// program was first loaded on this host (by any process).
func (s *Sockmap) Stats() (msgs, bytes uint64, err error) {
	var per []sockmapStats
	if err := s.objs.RedirectStats.Lookup(uint32(0), &per); err != nil {
		return 0, 0, fmt.Errorf("bpf: stats: %w", err)
	}
	for _, st := range per {
		msgs += st.Msgs
		bytes += st.Bytes
	}
	return msgs, bytes, nil
}

// Close releases this process's handles. The pins, the attachment and
// the sockets in the map stay for the other processes of the host.
func (s *Sockmap) Close() error {
	err := s.objs.Close()
	if s.lock >= 0 {
		unix.Close(s.lock)
		s.lock = -1
	}
	return err
}

// CloseLast closes s and, when no other open Sockmap on the host uses the
// same pin directory (in this process or another), removes the pins: the
// clean shutdown of the last node out. It reports whether it unpinned.
func (s *Sockmap) CloseLast() (unpinned bool, err error) {
	if s.lock >= 0 {
		// Under the load lock no Load is between its load and its shared
		// lock: an exclusive lock on the directory means no other user.
		lfd, lerr := lockDir(filepath.Join(s.pinDir, lockName), unix.LOCK_EX)
		if lerr == nil {
			if flock(s.lock, unix.LOCK_EX|unix.LOCK_NB) == nil {
				err = s.Unpin()
				unpinned = err == nil
			}
			unix.Close(lfd)
		} else if !errors.Is(lerr, os.ErrNotExist) {
			err = lerr
		}
	}
	return unpinned, errors.Join(err, s.Close())
}

// MapID is the kernel's identifier of the host's SOCKHASH: two processes
// with the same MapID share one map, whatever their network namespaces.
func (s *Sockmap) MapID() uint32 { return s.mapID }

// Cookie returns the socket cookie of the socket in the map under k, and
// false if no socket is there.
func (s *Sockmap) Cookie(k Key) (uint64, bool, error) {
	var v uint64
	err := s.objs.SockHash.Lookup(k.raw(), &v)
	if errors.Is(err, ebpf.ErrKeyNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("bpf: lookup %s: %w", k, err)
	}
	return v, true, nil
}

// Len counts the sockets in the map, of every process of the host.
func (s *Sockmap) Len() (int, error) {
	var k sockmapSockKey
	var v uint64
	n := 0
	it := s.objs.SockHash.Iterate()
	for it.Next(&k, &v) {
		n++
	}
	if err := it.Err(); err != nil {
		return n, fmt.Errorf("bpf: iterate: %w", err)
	}
	return n, nil
}

// SocketCookie returns the kernel's cookie of c's socket (SO_COOKIE): a
// number unique on the host, across network namespaces, for the socket's
// lifetime. [Sockmap.Cookie] answers the same number for it once added.
func SocketCookie(c syscall.Conn) (uint64, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("bpf: cookie: %w", err)
	}
	var v uint64
	cerr := rc.Control(func(fd uintptr) {
		v, err = unix.GetsockoptUint64(int(fd), unix.SOL_SOCKET, unix.SO_COOKIE)
	})
	if err = errors.Join(cerr, err); err != nil {
		return 0, fmt.Errorf("bpf: cookie: %w", err)
	}
	return v, nil
}

// Unpin removes the pins and the pin directory, for the last process out:
// the kernel frees the program and maps once no process holds them. The
// Sockmap stays usable until Close.
func (s *Sockmap) Unpin() error {
	var errs []error
	for _, name := range []string{pinProgram, pinSockHash, pinStats, lockName} {
		if err := os.Remove(filepath.Join(s.pinDir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := os.Remove(s.pinDir); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("bpf: unpin: %w", err)
	}
	return nil
}

// raw is k as the program sees it: addresses in network byte order (the
// bytes as on the wire, read in host order), ports in host order.
func (k Key) raw() sockmapSockKey {
	l, r := k.Local.Addr().As4(), k.Remote.Addr().As4()
	return sockmapSockKey{
		LocalIp4:   nativeUint32(l),
		RemoteIp4:  nativeUint32(r),
		LocalPort:  uint32(k.Local.Port()),
		RemotePort: uint32(k.Remote.Port()),
	}
}

// keyOf returns the key of the connected TCP/IPv4 socket fd.
func keyOf(fd int) (Key, error) {
	lsa, err := unix.Getsockname(fd)
	if err != nil {
		return Key{}, fmt.Errorf("bpf: getsockname: %w", err)
	}
	rsa, err := unix.Getpeername(fd)
	if err != nil {
		return Key{}, fmt.Errorf("bpf: getpeername: %w", err)
	}
	l, lok := addrPort(lsa)
	r, rok := addrPort(rsa)
	if !lok || !rok {
		return Key{}, fmt.Errorf("bpf: add: %w: not a TCP/IPv4 connection", ErrNotSupported)
	}
	return Key{Local: l, Remote: r}, nil
}

// addrPort converts an IPv4 (or IPv4-mapped IPv6) socket address.
func addrPort(sa unix.Sockaddr) (netip.AddrPort, bool) {
	var a netip.Addr
	var port int
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		a, port = netip.AddrFrom4(sa.Addr), sa.Port
	case *unix.SockaddrInet6:
		a, port = netip.AddrFrom16(sa.Addr).Unmap(), sa.Port
	default:
		return netip.AddrPort{}, false
	}
	if !a.Is4() {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(a, uint16(port)), true
}

// nativeUint32 reads b in host byte order.
func nativeUint32(b [4]byte) uint32 {
	return binary.NativeEndian.Uint32(b[:])
}
