package transport_test

import (
	"encoding/json"
	"flag"
	"strings"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/transport"
)

func TestPathNames(t *testing.T) {
	want := []string{"memory", "http", "unix", "tcp"}
	paths := transport.Paths()
	if len(paths) != len(want) {
		t.Fatalf("Paths() = %v, want %v", paths, want)
	}
	for i, p := range paths {
		if p.String() != want[i] || int(p) != i {
			t.Errorf("path %d is %q, want %q", i, p, want[i])
		}
		got, err := transport.ParsePath(want[i])
		if err != nil || got != p {
			t.Errorf("ParsePath(%q) = %v, %v", want[i], got, err)
		}
	}
	for _, bad := range []string{"", "TCP", "udp", "unix "} {
		if _, err := transport.ParsePath(bad); err == nil {
			t.Errorf("ParsePath(%q) accepted", bad)
		}
	}
}

func TestParseMechanism(t *testing.T) {
	for in, want := range map[string]transport.Mechanism{
		"": transport.MechanismAuto, "auto": transport.MechanismAuto,
		"write": transport.MechanismWrite, "splice": transport.MechanismSplice,
	} {
		if got, err := transport.ParseMechanism(in); err != nil || got != want {
			t.Errorf("ParseMechanism(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	// The others are reported, never chosen.
	for _, bad := range []string{"writev", "iouring", "read", "copy", "Splice", "sendfile"} {
		if _, err := transport.ParseMechanism(bad); err == nil || !strings.Contains(err.Error(), "want auto, write or splice") {
			t.Errorf("ParseMechanism(%q): %v, want a refusal naming the choices", bad, err)
		}
	}
	seen := map[string]bool{}
	for _, m := range transport.Mechanisms() {
		if seen[m.String()] || strings.HasPrefix(m.String(), "Mechanism(") {
			t.Errorf("mechanism %d has name %q: names must be set and unique", m, m)
		}
		seen[m.String()] = true
	}
}

func TestParseAccels(t *testing.T) {
	both := transport.AccelIOURing | transport.AccelSockmap
	for in, want := range map[string]transport.Accels{
		"": transport.AccelAuto, "auto": transport.AccelAuto, "none": transport.AccelNone,
		"iouring": transport.AccelIOURing, "sockmap": transport.AccelSockmap,
		"iouring,sockmap": both, "sockmap,iouring": both,
	} {
		got, err := transport.ParseAccels(in)
		if err != nil || got != want {
			t.Errorf("ParseAccels(%q) = %v, %v; want %v", in, got, err, want)
		}
		if again, err := transport.ParseAccels(got.String()); err != nil || again != got {
			t.Errorf("ParseAccels(%q.String() = %q) = %v, %v", in, got, again, err)
		}
	}
	for _, bad := range []string{"auto,iouring", "none,sockmap", "iouring,", "uring", "IOURING"} {
		if _, err := transport.ParseAccels(bad); err == nil {
			t.Errorf("ParseAccels(%q) accepted", bad)
		}
	}
	if !both.Has(transport.AccelSockmap) || transport.AccelIOURing.Has(transport.AccelSockmap) || transport.AccelNone.Has(transport.AccelNone) {
		t.Error("Has answers wrong")
	}
}

// The types are flag values and text: a flag, a config file and JSON
// spell them alike.
func TestModesAsFlagsAndText(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	var a transport.Accels
	var m transport.Mechanism
	fs.Var(&a, "accel", "")
	fs.Var(&m, "tcp-send", "")
	if err := fs.Parse([]string{"--accel", "sockmap,iouring", "--tcp-send", "splice"}); err != nil {
		t.Fatal(err)
	}
	if a != transport.AccelIOURing|transport.AccelSockmap || m != transport.MechanismSplice {
		t.Fatalf("flags parsed to %v, %v", a, m)
	}
	fs.SetOutput(new(strings.Builder))
	if err := fs.Parse([]string{"--accel", "bogus"}); err == nil {
		t.Fatal("--accel bogus accepted")
	}
	b, err := json.Marshal(struct {
		P transport.Path
		M transport.Mechanism
		A transport.Accels
	}{transport.PathTCP, transport.MechanismIOURing, a})
	if err != nil || string(b) != `{"P":"tcp","M":"iouring","A":"iouring,sockmap"}` {
		t.Fatalf("JSON: %s, %v", b, err)
	}
}
