//go:build !linux

package netns

import (
	"context"
	"net"
	"os/exec"
)

// NS is a named network namespace; there are none on this system.
type NS struct {
	Name string
	Path string
}

// UniqueName returns a name; namespaces need Linux.
func UniqueName(prefix string) string { return "rr-" + prefix }

// New fails: network namespaces need Linux.
func New(name string) (*NS, error) { return nil, errNotLinux }

// Close does nothing.
func (ns *NS) Close() error { return nil }

// Do fails: network namespaces need Linux.
func (ns *NS) Do(fn func() error) error { return errNotLinux }

// Start fails: network namespaces need Linux.
func (ns *NS) Start(cmd *exec.Cmd) error { return errNotLinux }

// Listen fails: network namespaces need Linux.
func (ns *NS) Listen(network, address string) (net.Listener, error) { return nil, errNotLinux }

// DialContext fails: network namespaces need Linux.
func (ns *NS) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return nil, errNotLinux
}

// Veth fails: network namespaces need Linux.
func Veth(a *NS, aAddr string, b *NS, bAddr string) error { return errNotLinux }

func sweep() {}

// Counters are a namespace's TCP segments and interface bytes sent.
type Counters struct {
	TCPOutSegs uint64
	TxBytes    uint64
}

// Counters fails: network namespaces need Linux.
func (ns *NS) Counters() (Counters, error) { return Counters{}, errNotLinux }

// Bridge is a bridge in a namespace; there are none on this system.
type Bridge struct{}

// NewBridge fails: network namespaces need Linux.
func NewBridge(ns *NS, addr string) (*Bridge, error) { return nil, errNotLinux }

// Attach fails: network namespaces need Linux.
func (b *Bridge) Attach(other *NS, addr string) error { return errNotLinux }
