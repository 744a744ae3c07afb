//go:build !linux

package bpf

import (
	"fmt"
	"runtime"
	"syscall"
)

// errNotLinux is the error of every entry point on this system: sockmaps
// and sk_msg programs are Linux's.
var errNotLinux = fmt.Errorf("bpf: %w: not on %s", ErrNotSupported, runtime.GOOS)

// Probe fails on this system with an error wrapping [ErrNotSupported].
func Probe() error { return errNotLinux }

// Load fails on this system with an error wrapping [ErrNotSupported].
func Load(opts *Options) (*Sockmap, error) { return nil, errNotLinux }

// SocketCookie fails on this system with an error wrapping
// [ErrNotSupported].
func SocketCookie(c syscall.Conn) (uint64, error) { return 0, errNotLinux }

// Sockmap is the host's shared SOCKHASH on Linux. On this system [Load]
// never returns one, and its methods fail with Load's error.
type Sockmap struct{}

// PinDir is "": see [Sockmap].
func (s *Sockmap) PinDir() string { return "" }

// Add fails: see [Sockmap].
func (s *Sockmap) Add(c syscall.Conn) (Key, error) { return Key{}, errNotLinux }

// Remove fails: see [Sockmap].
func (s *Sockmap) Remove(k Key) error { return errNotLinux }

// Stats fails: see [Sockmap].
func (s *Sockmap) Stats() (msgs, bytes uint64, err error) { return 0, 0, errNotLinux }

// Close has nothing to close.
func (s *Sockmap) Close() error { return nil }

// CloseLast has nothing to close or unpin.
func (s *Sockmap) CloseLast() (unpinned bool, err error) { return false, nil }

// MapID is 0: see [Sockmap].
func (s *Sockmap) MapID() uint32 { return 0 }

// Cookie fails: see [Sockmap].
func (s *Sockmap) Cookie(k Key) (uint64, bool, error) { return 0, false, errNotLinux }

// Len fails: see [Sockmap].
func (s *Sockmap) Len() (int, error) { return 0, errNotLinux }

// Unpin fails: see [Sockmap].
func (s *Sockmap) Unpin() error { return errNotLinux }
