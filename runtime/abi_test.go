package runtime_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/abi"
	"github.com/roadrunner-wasm/roadrunner/guest"
	"github.com/roadrunner-wasm/roadrunner/runtime"
)

// runtime and guest re-export the table of package abi under their own
// names; each name must stand for the code its name says.
func TestReexportedCodes(t *testing.T) {
	for _, tc := range []struct {
		name          string
		runtime, want abi.Code
		guest         guest.Error
	}{
		{"ok", runtime.CodeOK, abi.OK, abi.OK},
		{"bad_pointer", runtime.CodeBadPointer, abi.BadPointer, guest.ErrBadPointer},
		{"unknown_function", runtime.CodeUnknownFunction, abi.UnknownFunction, guest.ErrUnknownFunction},
		{"too_large", runtime.CodeTooLarge, abi.TooLarge, guest.ErrTooLarge},
		{"transport", runtime.CodeTransport, abi.Transport, guest.ErrTransport},
		{"receiver_failed", runtime.CodeReceiverFailed, abi.ReceiverFailed, guest.ErrReceiverFailed},
		{"receiver_trapped", runtime.CodeReceiverTrapped, abi.ReceiverTrapped, guest.ErrReceiverTrapped},
		{"alloc_failed", runtime.CodeAllocFailed, abi.AllocFailed, guest.ErrAllocFailed},
		{"no_invocation", runtime.CodeNoInvocation, abi.NoInvocation, guest.ErrNoInvocation},
		{"already_replied", runtime.CodeAlreadyReplied, abi.AlreadyReplied, guest.ErrAlreadyReplied},
		{"busy", runtime.CodeBusy, abi.Busy, guest.ErrBusy},
		{"canceled", runtime.CodeCanceled, abi.Canceled, guest.ErrCanceled},
		{"internal", runtime.CodeInternal, abi.Internal, guest.ErrInternal},
	} {
		if tc.want.Label() != tc.name || tc.runtime != tc.want || tc.guest != tc.want {
			t.Errorf("%s: abi %d (%s), runtime %d, guest %d", tc.name, tc.want, tc.want.Label(), tc.runtime, tc.guest)
		}
	}
}

func TestCodeOf(t *testing.T) {
	de := &runtime.DeliverError{Function: "f", Op: "rr_handle", Code: runtime.CodeReceiverFailed, Result: 3}
	for _, tc := range []struct {
		err  error
		want runtime.Code
	}{
		{nil, runtime.CodeOK},
		{runtime.CodeTooLarge, runtime.CodeTooLarge},
		{fmt.Errorf("send: %w", runtime.CodeUnknownFunction), runtime.CodeUnknownFunction},
		{fmt.Errorf("wrapped: %w", de), runtime.CodeReceiverFailed},
		{errors.Join(errors.New("x"), runtime.CodeBusy), runtime.CodeBusy},
		{errors.New("plain"), runtime.CodeInternal},
	} {
		if got := runtime.CodeOf(tc.err); got != tc.want {
			t.Errorf("CodeOf(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	if !errors.Is(fmt.Errorf("x: %w", de), runtime.CodeReceiverFailed) {
		t.Error("errors.Is does not see a DeliverError's code")
	}
	if errors.Is(de, runtime.CodeBusy) {
		t.Error("errors.Is matches a DeliverError against another code")
	}
}

func TestCodeOfDoesNotAllocate(t *testing.T) {
	err := fmt.Errorf("a: %w", fmt.Errorf("b: %w", runtime.CodeTooLarge))
	if n := testing.AllocsPerRun(100, func() { runtime.CodeOf(err) }); n != 0 {
		t.Fatalf("CodeOf allocates %v times", n)
	}
}

func TestNameCache(t *testing.T) {
	var c runtime.NameCache
	b := []byte("consumer")
	s := c.String(b)
	b[0] = 'X' // the cached string must not alias b
	if s != "consumer" {
		t.Fatalf("cached name changed with its source: %q", s)
	}
	b[0] = 'c'
	if n := testing.AllocsPerRun(100, func() { _ = c.String(b) }); n != 0 {
		t.Fatalf("a cached name allocates %v times", n)
	}
	for i := range 300 {
		if got := c.String([]byte(fmt.Sprint("f", i))); got != fmt.Sprint("f", i) {
			t.Fatalf("name %d: got %q", i, got)
		}
	}
}
