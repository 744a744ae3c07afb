package netns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Dir is where named namespaces are bind-mounted, as by `ip netns add`.
const Dir = "/run/netns"

// NS is a named network namespace. Its methods are safe for concurrent use;
// Close waits for the Do calls in progress.
type NS struct {
	Name string // the name under Dir
	Path string // Dir/Name

	mu sync.RWMutex
	fd int // open on Path; -1 after Close
}

var names atomic.Uint64

// UniqueName returns "rr-PREFIX-PID-N", a name that no other process picks
// and that this process picks once.
func UniqueName(prefix string) string {
	return "rr-" + prefix + "-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatUint(names.Add(1), 10)
}

// New creates the network namespace name, bind-mounted at Dir/name, with
// its loopback interface up. The name must not exist.
func New(name string) (*NS, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, '/') {
		return nil, fmt.Errorf("netns: bad name %q", name)
	}
	if err := os.MkdirAll(Dir, 0o755); err != nil {
		return nil, fmt.Errorf("netns: %w", err)
	}
	path := filepath.Join(Dir, name)
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return nil, fmt.Errorf("netns: %w", err)
	}
	f.Close()
	err = onThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("unshare: %w", err)
		}
		src := "/proc/self/task/" + strconv.Itoa(unix.Gettid()) + "/ns/net"
		if err := unix.Mount(src, path, "none", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind mount on %s: %w", path, err)
		}
		return nil
	})
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("netns %s: %w", name, err)
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		unmount(path)
		return nil, fmt.Errorf("netns %s: %w", name, &os.PathError{Op: "open", Path: path, Err: err})
	}
	ns := &NS{Name: name, Path: path, fd: fd}
	if err := ns.netlink(func(h *netlink.Handle) error {
		lo, err := h.LinkByName("lo")
		if err != nil {
			return err
		}
		return h.LinkSetUp(lo)
	}); err != nil {
		ns.Close()
		return nil, fmt.Errorf("netns %s: set lo up: %w", name, err)
	}
	return ns, nil
}

// Close removes the namespace's name. The kernel destroys the namespace
// when no process runs in it any more. Close is idempotent.
func (ns *NS) Close() error {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if ns.fd < 0 {
		return nil
	}
	unix.Close(ns.fd)
	ns.fd = -1
	if err := unmount(ns.Path); err != nil {
		return fmt.Errorf("netns %s: %w", ns.Name, err)
	}
	return nil
}

// unmount unmounts path and removes the file.
func unmount(path string) error {
	err := unix.Unmount(path, unix.MNT_DETACH)
	if err != nil && err != unix.EINVAL { // EINVAL: not mounted
		return &os.PathError{Op: "unmount", Path: path, Err: err}
	}
	return os.Remove(path)
}

var errClosed = errors.New("namespace closed")

// Do runs fn on a locked OS thread inside the namespace and returns its
// error. The thread goes back to its namespace afterwards, or, if it
// cannot, is discarded (and Do says so in its error). Goroutines that fn
// starts do not run in the namespace.
func (ns *NS) Do(fn func() error) error {
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	if ns.fd < 0 {
		return fmt.Errorf("netns %s: %w", ns.Name, errClosed)
	}
	return onThread(func() error {
		if err := unix.Setns(ns.fd, unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("netns %s: setns: %w", ns.Name, err)
		}
		return fn()
	})
}

// onThread runs fn on a new goroutine locked to its thread, then puts the
// thread back in the network namespace it was in. If that fails the
// goroutine exits still locked, which makes the runtime end the thread.
func onThread(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/self/task/"+strconv.Itoa(unix.Gettid())+"/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open the thread's namespace: %w", err)
			return
		}
		err = fn()
		if rerr := unix.Setns(orig, unix.CLONE_NEWNET); rerr != nil {
			unix.Close(orig)
			errc <- errors.Join(err, fmt.Errorf("restore the thread's namespace (thread discarded): %w", rerr))
			return // locked: the thread ends with this goroutine
		}
		unix.Close(orig)
		runtime.UnlockOSThread()
		errc <- err
	}()
	return <-errc
}

// Start starts cmd inside the namespace: the child inherits the namespace
// of the thread that forks it. With a parent-death signal set
// (SysProcAttr.Pdeathsig), the child is killed if that thread is
// discarded, which Start reports as an error.
func (ns *NS) Start(cmd *exec.Cmd) error {
	return ns.Do(cmd.Start)
}

// Listen is net.Listen inside the namespace. For tcp and udp the host must
// be an IP address or empty (a name would be resolved outside the
// namespace).
func (ns *NS) Listen(network, address string) (net.Listener, error) {
	if err := literal(network, address); err != nil {
		return nil, err
	}
	var ln net.Listener
	err := ns.Do(func() (err error) {
		ln, err = net.Listen(network, address)
		return err
	})
	return ln, err
}

// DialContext dials address from inside the namespace, with the
// signature of net.Dialer.DialContext (for an http.Transport). For tcp and
// udp the host must be an IP address.
func (ns *NS) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if err := literal(network, address); err != nil {
		return nil, err
	}
	var c net.Conn
	err := ns.Do(func() (err error) {
		// No fallback racing: every socket is made on this thread.
		d := net.Dialer{FallbackDelay: -1}
		c, err = d.DialContext(ctx, network, address)
		return err
	})
	return c, err
}

// literal refuses an ip network address whose host is a name: resolving it
// may create sockets on other threads, outside the namespace.
func literal(network, address string) error {
	switch network {
	case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6":
	default:
		return nil
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("netns: %w", err)
	}
	if host == "" {
		return nil
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return fmt.Errorf("netns: address %q: want an IP address, not a name", address)
	}
	return nil
}

// netlink runs fn with a netlink handle inside the namespace.
func (ns *NS) netlink(fn func(*netlink.Handle) error) error {
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	if ns.fd < 0 {
		return errClosed
	}
	h, err := netlink.NewHandleAt(vnetns.NsHandle(ns.fd))
	if err != nil {
		return err
	}
	defer h.Close()
	return fn(h)
}

var veths atomic.Uint64

// up gives the link name the address addr and sets it up.
func up(name string, addr *netlink.Addr) func(*netlink.Handle) error {
	return func(h *netlink.Handle) error {
		link, err := h.LinkByName(name)
		if err != nil {
			return err
		}
		if err := h.AddrAdd(link, addr); err != nil {
			return fmt.Errorf("add %s: %w", addr, err)
		}
		return h.LinkSetUp(link)
	}
}

// Veth joins a and b with a veth pair, gives the end in a the address
// aAddr and the end in b bAddr (CIDR: "198.18.0.1/24"), and sets both up.
// The pair goes away with either namespace.
func Veth(a *NS, aAddr string, b *NS, bAddr string) error {
	if a == b {
		return errors.New("netns: veth: both ends in one namespace")
	}
	aa, err := netlink.ParseAddr(aAddr)
	if err != nil {
		return fmt.Errorf("netns: veth: %w", err)
	}
	ba, err := netlink.ParseAddr(bAddr)
	if err != nil {
		return fmt.Errorf("netns: veth: %w", err)
	}
	n := strconv.FormatUint(veths.Add(1), 10)
	aName, bName := "rrv"+n+"a", "rrv"+n+"b"
	b.mu.RLock()
	bfd := b.fd
	defer b.mu.RUnlock()
	if bfd < 0 {
		return fmt.Errorf("netns %s: %w", b.Name, errClosed)
	}
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: aName}, PeerName: bName, PeerNamespace: netlink.NsFd(bfd)}
	if err := a.netlink(func(h *netlink.Handle) error { return h.LinkAdd(veth) }); err != nil {
		return fmt.Errorf("netns: veth %s (%s) - %s (%s): %w", aName, a.Name, bName, b.Name, err)
	}
	err = a.netlink(up(aName, aa))
	if err == nil {
		err = b.netlink(up(bName, ba))
	}
	if err != nil {
		a.netlink(func(h *netlink.Handle) error { return h.LinkDel(veth) }) // deletes both ends
		return fmt.Errorf("netns: veth %s (%s) - %s (%s): %w", aName, a.Name, bName, b.Name, err)
	}
	return nil
}

// sweep removes the namespaces under Dir that UniqueName made for a
// process that no longer runs (a test binary killed before its cleanup).
func sweep() {
	entries, err := os.ReadDir(Dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		f := strings.Split(e.Name(), "-")
		if len(f) < 4 || f[0] != "rr" {
			continue
		}
		pid, err := strconv.Atoi(f[len(f)-2])
		if err != nil || pid <= 0 {
			continue
		}
		if err := unix.Kill(pid, 0); err == unix.ESRCH {
			unmount(filepath.Join(Dir, e.Name()))
		}
	}
}

// Bridge is a Linux bridge in a namespace: a switch that namespaces join
// with [Bridge.Attach], so that several of them share one subnet, as the
// nodes of a cluster share a network.
type Bridge struct {
	ns   *NS
	name string
}

// NewBridge makes a bridge in ns with the address addr (CIDR:
// "198.18.5.1/24") and sets it up. It goes away with ns.
func NewBridge(ns *NS, addr string) (*Bridge, error) {
	a, err := netlink.ParseAddr(addr)
	if err != nil {
		return nil, fmt.Errorf("netns: bridge: %w", err)
	}
	id := veths.Add(1)
	name := "rrbr" + strconv.FormatUint(id, 10)
	// A bridge without an address of its own takes the lowest of its
	// ports', which changes as namespaces join: the neighbours' ARP
	// entries for it would go stale and drop packets for seconds. A
	// locally administered address keeps it.
	mac := net.HardwareAddr{0x02, 0x72, 0x72, byte(id >> 16), byte(id >> 8), byte(id)}
	err = ns.netlink(func(h *netlink.Handle) error {
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name, HardwareAddr: mac}}
		if err := h.LinkAdd(br); err != nil {
			return err
		}
		if err := h.AddrAdd(br, a); err != nil {
			return fmt.Errorf("add %s: %w", a, err)
		}
		return h.LinkSetUp(br)
	})
	if err != nil {
		return nil, fmt.Errorf("netns: bridge %s (%s): %w", name, ns.Name, err)
	}
	return &Bridge{ns: ns, name: name}, nil
}

// Attach joins other to the bridge with a veth pair: the end in other
// gets addr (CIDR, in the bridge's subnet), the end in the bridge's
// namespace is a port of the bridge. The pair goes away with either
// namespace.
func (b *Bridge) Attach(other *NS, addr string) error {
	oa, err := netlink.ParseAddr(addr)
	if err != nil {
		return fmt.Errorf("netns: attach: %w", err)
	}
	n := strconv.FormatUint(veths.Add(1), 10)
	port, end := "rrv"+n+"p", "rrv"+n+"e"
	other.mu.RLock()
	ofd := other.fd
	defer other.mu.RUnlock()
	if ofd < 0 {
		return fmt.Errorf("netns %s: %w", other.Name, errClosed)
	}
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: port}, PeerName: end, PeerNamespace: netlink.NsFd(ofd)}
	err = b.ns.netlink(func(h *netlink.Handle) error {
		if err := h.LinkAdd(veth); err != nil {
			return err
		}
		br, err := h.LinkByName(b.name)
		if err != nil {
			return err
		}
		link, err := h.LinkByName(port)
		if err != nil {
			return err
		}
		if err := h.LinkSetMaster(link, br); err != nil {
			return err
		}
		return h.LinkSetUp(link)
	})
	if err == nil {
		err = other.netlink(up(end, oa))
	}
	if err != nil {
		b.ns.netlink(func(h *netlink.Handle) error { return h.LinkDel(veth) })
		return fmt.Errorf("netns: attach %s to bridge %s (%s): %w", other.Name, b.name, b.ns.Name, err)
	}
	return nil
}
