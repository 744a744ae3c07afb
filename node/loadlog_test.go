package node_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/internal/wasmbuild"
	"github.com/roadrunner-wasm/roadrunner/node"
)

// TestLoadLogged: at the info level, a node says which function it is
// about to load before the engine compiles it (a start-up silent for
// seconds is explained), then that it loaded it and how long that took.
func TestLoadLogged(t *testing.T) {
	echo := wasmbuild.ForTest(t, testdata+"echo")
	relay := wasmbuild.ForTest(t, testdata+"relay")
	cfg := "node:\n  cache_dir: \"off\"\nfunctions:\n" +
		"  - {name: first, module: " + echo + ", pool: 2}\n" +
		"  - {name: second, module: " + relay + ", pool: 1}\n"
	path := filepath.Join(t.TempDir(), "node.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := node.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	n, err := node.New(context.Background(), c, &node.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	type record struct {
		Msg, Function, Module, Engine string
		Pool                          int
		Bytes                         int64
		LoadTime                      *time.Duration `json:"load_time"`
	}
	var got []record
	for line := range strings.Lines(logs.String()) {
		var r record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		if r.Msg == "loading function" || r.Msg == "function loaded" {
			got = append(got, r)
		}
	}
	want := []struct {
		msg, fn, module string
		pool            int
	}{
		{"loading function", "first", echo, 2},
		{"function loaded", "first", echo, 2},
		{"loading function", "second", relay, 1},
		{"function loaded", "second", relay, 1},
	}
	if len(got) != len(want) {
		t.Fatalf("%d load lines, want %d:\n%s", len(got), len(want), logs)
	}
	for i, w := range want {
		r := got[i]
		if r.Msg != w.msg || r.Function != w.fn || r.Module != w.module || r.Pool != w.pool || r.Engine != "wazero" {
			t.Errorf("line %d: %+v, want %s of %s (%s, pool %d) on wazero", i, r, w.msg, w.fn, w.module, w.pool)
		}
		switch w.msg {
		case "loading function":
			st, err := os.Stat(w.module)
			if err != nil || r.Bytes != st.Size() || r.LoadTime != nil {
				t.Errorf("line %d: %+v: want the module's size (%v) and no load_time", i, r, err)
			}
		case "function loaded":
			// With the cache off, the engine compiles: not instantaneous.
			if r.LoadTime == nil || *r.LoadTime <= 0 {
				t.Errorf("line %d: %+v: want a load_time > 0", i, r)
			}
		}
	}
}
