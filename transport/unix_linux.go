//go:build linux

package transport

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ListenUnix listens on the UNIX domain socket path with permission mode
// (0 means DefaultUnixMode) and group gid (-1 leaves the process's group).
//
// The socket never exists at path with other permissions: it is bound in a
// private directory beside path, given its mode and group there, and
// renamed into place. A lock file path+".lock", held while the listener
// is open, says whether a node owns path: if another process holds it, or a
// connection to an existing socket at path succeeds, ListenUnix fails with
// ErrAddrInUse and leaves the socket alone; a socket at path that nothing
// holds or answers is a stale one from a node that crashed, and is
// replaced. A file at path that is not a socket is an error.
//
// Closing the listener removes the socket if it is still the one this
// listener created.
func ListenUnix(path string, mode fs.FileMode, gid int) (net.Listener, error) {
	if mode == 0 {
		mode = DefaultUnixMode
	}
	if mode&^fs.ModePerm != 0 {
		return nil, fmt.Errorf("listen unix %s: mode %v: only permission bits", path, mode)
	}
	path = filepath.Clean(path)
	lock, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("listen unix %s: lock: %w", path, err)
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("listen unix %s: another process holds %s.lock: %w", path, path, ErrAddrInUse)
		}
		return nil, fmt.Errorf("listen unix %s: lock: %w", path, err)
	}
	ln, err := listenUnix(path, mode, gid)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("listen unix %s: %w", path, err)
	}
	ln.lock = lock
	return ln, nil
}

func listenUnix(path string, mode fs.FileMode, gid int) (*unixListener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("%s exists and is not a socket (%v)", path, fi.Mode().Type())
		}
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("a live process answers on it: %w", ErrAddrInUse)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("existing socket: %w", err)
		}
		// Stale: nothing listens. The rename below replaces it.
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	dir, err := os.MkdirTemp(filepath.Dir(path), ".rr")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, err
	}
	tmp := filepath.Join(dir, "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, err
	}
	ln.SetUnlinkOnClose(false)
	fail := func(err error) (*unixListener, error) {
		ln.Close()
		return nil, err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return fail(err)
	}
	if gid >= 0 {
		if err := os.Lchown(tmp, -1, gid); err != nil {
			return fail(fmt.Errorf("chown group %d: %w", gid, err))
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return fail(err)
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	ul := &unixListener{UnixListener: ln, path: path}
	if st != nil {
		ul.dev, ul.ino = st.Dev, st.Ino
	}
	return ul, nil
}

// unixListener is a listener made by ListenUnix.
type unixListener struct {
	*net.UnixListener
	path     string
	dev, ino uint64
	lock     *os.File
	once     sync.Once
}

// Addr is the socket's path (not the temporary name it was bound to).
func (l *unixListener) Addr() net.Addr { return &net.UnixAddr{Name: l.path, Net: "unix"} }

// Close closes the listener, removes its socket file if that is still the
// one it created, and releases the lock.
func (l *unixListener) Close() error {
	err := l.UnixListener.Close()
	l.once.Do(func() {
		if fi, serr := os.Lstat(l.path); serr == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Dev == l.dev && st.Ino == l.ino {
				os.Remove(l.path)
			}
		}
		if l.lock != nil {
			l.lock.Close()
		}
	})
	return err
}
