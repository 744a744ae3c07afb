//go:build !linux

package bpf

import (
	"errors"
	"net"
	"testing"
)

// TestNotLinux: off Linux the loader, the probe and the cookie fail with
// an error wrapping ErrNotSupported, and so errors.ErrUnsupported.
func TestNotLinux(t *testing.T) {
	for name, err := range map[string]error{
		"Probe": Probe(),
		"Load": func() error {
			s, err := Load(nil)
			if s != nil {
				t.Errorf("Load returned a Sockmap")
			}
			return err
		}(),
		"SocketCookie": func() error { _, err := SocketCookie(&net.TCPConn{}); return err }(),
	} {
		if !errors.Is(err, ErrNotSupported) || !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("%s: %v; want ErrNotSupported and errors.ErrUnsupported", name, err)
		}
	}
}
