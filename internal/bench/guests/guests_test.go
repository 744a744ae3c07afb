package guests_test

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/internal/bench"
	"github.com/roadrunner-wasm/roadrunner/internal/bench/guests"
	"github.com/roadrunner-wasm/roadrunner/internal/wasmbuild"
)

const regenerate = "run go generate ./internal/bench/guests (make generate-guests) and commit the result"

// TestMatchSources rebuilds every guest of bench.Modules from its source
// and fails unless the embedded module is the same, byte for byte, and the
// embedded set is bench.Modules: rrnode bench must run what the sources
// say.
func TestMatchSources(t *testing.T) {
	want := slices.Sorted(slices.Values(bench.Modules))
	if got := guests.Names(); !slices.Equal(got, want) {
		t.Errorf("embedded guests %v, bench.Modules %v: %s", got, want, regenerate)
	}
	dir := t.TempDir()
	for _, name := range bench.Modules {
		out := filepath.Join(dir, name+".wasm")
		if err := wasmbuild.Build(guests.Source(name), out); err != nil {
			t.Fatal(err)
		}
		fresh, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		embedded, err := guests.Module(name)
		if err != nil {
			t.Errorf("%v: %s", err, regenerate)
			continue
		}
		if !bytes.Equal(embedded, fresh) {
			why := "its sources changed"
			if guests.GoVersion != runtime.Version() {
				why = "they were built by " + guests.GoVersion + ", this is " + runtime.Version() + " (another toolchain builds other bytes)"
			}
			t.Errorf("guest %s: the embedded module (%d bytes) differs from the one %s builds (%d bytes): %s; %s",
				name, len(embedded), guests.Source(name), len(fresh), why, regenerate)
		}
	}
}

func TestWriteDir(t *testing.T) {
	dir := t.TempDir()
	if err := guests.WriteDir(dir, bench.Modules); err != nil {
		t.Fatal(err)
	}
	for _, name := range bench.Modules {
		m, err := os.ReadFile(filepath.Join(dir, name+".wasm"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(m, []byte("\x00asm\x01\x00\x00\x00")) {
			t.Errorf("%s.wasm does not start as a Wasm module: % x", name, m[:min(8, len(m))])
		}
	}
	// A name this build does not embed: an error naming it and what to do,
	// and nothing written.
	empty := t.TempDir()
	err := guests.WriteDir(empty, []string{bench.Modules[0], "rawpigeon"})
	if err == nil || !strings.Contains(err.Error(), "no guest rawpigeon") || !strings.Contains(err.Error(), "go generate ./internal/bench/guests") {
		t.Errorf("WriteDir with a name not embedded: %v", err)
	}
	if ents, _ := os.ReadDir(empty); len(ents) != 0 {
		t.Errorf("WriteDir wrote %d files before failing", len(ents))
	}
}
