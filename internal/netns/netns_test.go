//go:build linux

package netns

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// inode is the namespace inode of a /proc/.../ns/net link or of a mount;
// 0 (and an error on t) if it cannot be read. Safe on any goroutine.
func inode(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Error(err)
		return 0
	}
	return st.Ino
}

func TestNewDoClose(t *testing.T) {
	ns := ForTest(t, "new")
	if ns.Path != Dir+"/"+ns.Name || !strings.Contains(ns.Name, "-"+strconv.Itoa(os.Getpid())+"-") {
		t.Fatalf("name %q, path %q", ns.Name, ns.Path)
	}
	root := inode(t, "/proc/self/ns/net")
	nsIno := inode(t, ns.Path)
	if nsIno == root {
		t.Fatal("the namespace is the root namespace")
	}

	var inside uint64
	var ifaces []net.Interface
	err := ns.Do(func() (err error) {
		inside = inode(t, "/proc/thread-self/ns/net")
		ifaces, err = net.Interfaces()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if inside != nsIno {
		t.Fatalf("Do ran in namespace %d, want %d", inside, nsIno)
	}
	if len(ifaces) != 1 || ifaces[0].Name != "lo" || ifaces[0].Flags&net.FlagUp == 0 {
		t.Fatalf("interfaces in a new namespace: %+v; want lo, up", ifaces)
	}
	want := errors.New("from fn")
	if err := ns.Do(func() error { return want }); err != want {
		t.Fatalf("Do returned %v, want fn's error", err)
	}

	// Every thread is back in the root namespace: run Do often, then look
	// at as many threads as the runtime may have.
	for range 50 {
		ns.Do(func() error { return nil })
	}
	var wg sync.WaitGroup
	for range 4 * runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			if got := inode(t, "/proc/thread-self/ns/net"); got != root {
				t.Errorf("a thread is in namespace %d after Do, want the root's %d", got, root)
			}
			time.Sleep(10 * time.Millisecond) // keep the thread so others take new ones
		})
	}
	wg.Wait()

	if err := ns.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ns.Path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("after Close: stat %s: %v", ns.Path, err)
	}
	if err := ns.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := ns.Do(func() error { return nil }); err == nil {
		t.Fatal("Do after Close succeeded")
	}
}

func TestNewRefusesExistingName(t *testing.T) {
	ns := ForTest(t, "dup")
	if _, err := New(ns.Name); !errors.Is(err, os.ErrExist) {
		t.Fatalf("New(%q) again: %v, want ErrExist", ns.Name, err)
	}
}

// A process started with Start runs in the namespace.
func TestStart(t *testing.T) {
	ns := ForTest(t, "start")
	cmd := exec.Command("readlink", "/proc/self/ns/net")
	var out strings.Builder
	cmd.Stdout = &out
	if err := ns.Start(cmd); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	want := "net:[" + strconv.FormatUint(inode(t, ns.Path), 10) + "]"
	if got := strings.TrimSpace(out.String()); got != want {
		t.Fatalf("the child is in %s, want %s", got, want)
	}
}

// Two namespaces joined by a veth pair: tcp across it works, and each
// namespace's loopback is its own.
func TestVethTCP(t *testing.T) {
	a, b := ForTest(t, "va"), ForTest(t, "vb")
	if err := Veth(a, "198.18.0.1/24", b, "198.18.0.2/24"); err != nil {
		t.Fatal(err)
	}
	ln, err := b.Listen("tcp", "198.18.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := a.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.LocalAddr().(*net.TCPAddr).IP.String(); got != "198.18.0.1" {
		t.Fatalf("local address %s, want a's end of the veth", got)
	}
	before, err := a.Counters()
	if err != nil {
		t.Fatal(err)
	}
	msg := bytes.Repeat([]byte("across the veth "), 1<<12) // 64 KiB
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("echo: %d bytes, %v", len(got), err)
	}
	after, err := a.Counters()
	if err != nil {
		t.Fatal(err)
	}
	// 64 KiB in segments of at most 1448 bytes: 46 or more; the veth
	// carried the bytes, and their headers.
	if segs := after.TCPOutSegs - before.TCPOutSegs; segs < uint64(len(msg)/1448) {
		t.Errorf("a sent %d TCP segments for %d bytes, want at least %d", segs, len(msg), len(msg)/1448)
	}
	if tx := after.TxBytes - before.TxBytes; tx < uint64(len(msg)) {
		t.Errorf("a's interfaces sent %d bytes for %d payload bytes", tx, len(msg))
	}

	lo, err := b.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lo.Close()
	if c, err := a.DialContext(ctx, "tcp", lo.Addr().String()); err == nil {
		c.Close()
		t.Fatalf("a reached b's loopback listener %s", lo.Addr())
	}
	if _, err := a.DialContext(ctx, "tcp", "localhost:80"); err == nil || !strings.Contains(err.Error(), "IP address") {
		t.Fatalf("dial by name: %v, want a refusal", err)
	}
}

func TestVethErrors(t *testing.T) {
	a, b := ForTest(t, "ea"), ForTest(t, "eb")
	if err := Veth(a, "198.18.0.1/24", a, "198.18.0.2/24"); err == nil {
		t.Fatal("a veth within one namespace succeeded")
	}
	if err := Veth(a, "198.18.0.1", b, "198.18.0.2/24"); err == nil {
		t.Fatal("an address without a prefix length succeeded")
	}
}

// A namespace left by a dead process is swept; a live one's is not.
func TestSweep(t *testing.T) {
	ForTest(t, "live") // root, and the first sweep done
	dead, err := New("rr-sweep-999999999-1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dead.Close() })
	live := ForTest(t, "live")
	sweep()
	if _, err := os.Stat(dead.Path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the dead process's namespace is still there: %v", err)
	}
	if _, err := os.Stat(live.Path); err != nil {
		t.Fatalf("a live process's namespace was swept: %v", err)
	}
}
