package runtime_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/guest"
	"github.com/roadrunner-wasm/roadrunner/runtime"
)

// The guest SDK keeps its own copy of the code table (it must not import the
// host's packages); the two must agree.
func TestGuestCodesMatch(t *testing.T) {
	for _, c := range runtime.Codes()[1:] {
		g := guest.Error(c)
		if g.Error() != "roadrunner: "+c.Error() {
			t.Errorf("code %d: guest says %q, runtime says %q", c, g.Error(), c.Error())
		}
		if c.Label() == "unknown" || c.Error() == "unknown code" {
			t.Errorf("code %d has no text or label", c)
		}
	}
	if got := guest.Error(-13).Error(); got != "roadrunner: code -13" {
		t.Errorf("an undefined code reads %q", got)
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
