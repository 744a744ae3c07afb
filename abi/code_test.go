package abi_test

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/abi"
)

// table is ABI version 1's code table as docs/ABI.md states it, written out
// literally: a code that changes value, label or text fails here.
var table = []struct {
	code  abi.Code
	value int32
	label string
	text  string
}{
	{abi.OK, 0, "ok", "ok"},
	{abi.BadPointer, -1, "bad_pointer", "bad pointer"},
	{abi.UnknownFunction, -2, "unknown_function", "unknown function"},
	{abi.TooLarge, -3, "too_large", "payload too large"},
	{abi.Transport, -4, "transport", "transport failure"},
	{abi.ReceiverFailed, -5, "receiver_failed", "receiver failed"},
	{abi.ReceiverTrapped, -6, "receiver_trapped", "receiver trapped"},
	{abi.AllocFailed, -7, "alloc_failed", "receiver allocation failed"},
	{abi.NoInvocation, -8, "no_invocation", "no invocation to reply to"},
	{abi.AlreadyReplied, -9, "already_replied", "already replied"},
	{abi.Busy, -10, "busy", "busy"},
	{abi.Canceled, -11, "canceled", "canceled"},
	{abi.Internal, -12, "internal", "internal error"},
}

func TestTable(t *testing.T) {
	cs := abi.Codes()
	if len(cs) != len(table) {
		t.Fatalf("Codes() has %d codes, the table %d", len(cs), len(table))
	}
	labels := map[string]abi.Code{}
	texts := map[string]abi.Code{}
	for i, w := range table {
		if int32(w.code) != w.value {
			t.Errorf("%s = %d, want %d", w.label, int32(w.code), w.value)
		}
		if cs[i] != w.code {
			t.Errorf("Codes()[%d] = %d, want %d", i, cs[i], w.code)
		}
		if !w.code.Defined() {
			t.Errorf("code %d is not Defined", w.code)
		}
		if got := w.code.Label(); got != w.label {
			t.Errorf("code %d: Label() = %q, want %q", w.code, got, w.label)
		}
		if got := w.code.Error(); got != w.text {
			t.Errorf("code %d: Error() = %q, want %q", w.code, got, w.text)
		}
		if c, dup := labels[w.code.Label()]; dup {
			t.Errorf("codes %d and %d share the label %q", c, w.code, w.code.Label())
		}
		labels[w.code.Label()] = w.code
		if c, dup := texts[w.code.Error()]; dup {
			t.Errorf("codes %d and %d share the text %q", c, w.code, w.code.Error())
		}
		texts[w.code.Error()] = w.code
	}
}

func TestUndefined(t *testing.T) {
	for _, c := range []abi.Code{1, abi.Code(-len(table)), -1 << 31} {
		if c.Defined() {
			t.Errorf("code %d is Defined", c)
		}
		if got, want := c.Error(), "code "+strconv.Itoa(int(c)); got != want {
			t.Errorf("code %d: Error() = %q, want %q", c, got, want)
		}
		if got := c.Label(); got != "unknown" {
			t.Errorf("code %d: Label() = %q, want unknown", c, got)
		}
	}
}

// docsRow is a row of docs/ABI.md's result code table: | −3 | `too_large` | …
var docsRow = regexp.MustCompile("^\\| *([−-]?[0-9]+) *\\| *`([a-z_]+)` *\\|")

// The table in docs/ABI.md is the one a peer in another language reads: it
// must list exactly the codes and labels of this package.
func TestDocsTable(t *testing.T) {
	b, err := os.ReadFile("../docs/ABI.md")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for line := range strings.Lines(string(b)) {
		if m := docsRow.FindStringSubmatch(line); m != nil {
			got = append(got, strings.ReplaceAll(m[1], "−", "-")+" "+m[2])
		}
	}
	var want []string
	for _, c := range abi.Codes() {
		want = append(want, strconv.Itoa(int(c))+" "+c.Label())
	}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("docs/ABI.md's code table:\n  %s\nthe package's:\n  %s", strings.Join(got, ", "), strings.Join(want, ", "))
	}
}

// coded is an error type of another package that carries a code.
type coded struct{ c abi.Code }

func (e *coded) Error() string     { return "coded: " + e.c.Error() }
func (e *coded) ABICode() abi.Code { return e.c }

func TestCodeOf(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want abi.Code
	}{
		{nil, abi.OK},
		{abi.TooLarge, abi.TooLarge},
		{fmt.Errorf("send: %w", abi.UnknownFunction), abi.UnknownFunction},
		{fmt.Errorf("wrapped: %w", &coded{abi.ReceiverFailed}), abi.ReceiverFailed},
		{errors.Join(errors.New("x"), abi.Busy), abi.Busy},
		{errors.Join(errors.New("x"), errors.New("y")), abi.Internal},
		{errors.New("plain"), abi.Internal},
	} {
		if got := abi.CodeOf(tc.err); got != tc.want {
			t.Errorf("CodeOf(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
	if !errors.Is(fmt.Errorf("x: %w", abi.TooLarge), abi.TooLarge) {
		t.Error("errors.Is does not find a wrapped code")
	}
	if errors.Is(abi.TooLarge, abi.Busy) {
		t.Error("errors.Is matches one code against another")
	}
	var c abi.Code
	if !errors.As(fmt.Errorf("x: %w", abi.Canceled), &c) || c != abi.Canceled {
		t.Errorf("errors.As finds %d, want %d", c, abi.Canceled)
	}
}

func TestCodeOfDoesNotAllocate(t *testing.T) {
	err := fmt.Errorf("a: %w", fmt.Errorf("b: %w", abi.TooLarge))
	if n := testing.AllocsPerRun(100, func() { abi.CodeOf(err) }); n != 0 {
		t.Fatalf("CodeOf allocates %v times", n)
	}
}
