//go:build !linux

package ring_test

import (
	"errors"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/internal/ring"
)

// TestNotLinux: off Linux every entry point fails with an error wrapping
// errors.ErrUnsupported, which the transport maps to its ErrNotSupported.
func TestNotLinux(t *testing.T) {
	if r, err := ring.New(nil); r != nil || !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("New: %v, %v; want nil and errors.ErrUnsupported", r, err)
	}
	if _, err := ring.ReadDisabled(); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("ReadDisabled: %v; want errors.ErrUnsupported", err)
	}
	var r ring.Ring = new(ring.Native)
	if err := r.Send(ring.Op{}, 0, nil, 0); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Send: %v; want errors.ErrUnsupported", err)
	}
	if _, err := r.Wait(make([]ring.CQE, 1), 1, 0); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Wait: %v; want errors.ErrUnsupported", err)
	}
}
