package main

import (
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// The config file watch on a real directory with real fsnotify: each test
// changes the file the way an operator, an editor or the kubelet does and
// waits for the watcher to have checked the file after the change (its
// checks counter), then counts the onChange calls and the content each saw.

// watchRec records the onChange calls of a watcher: the content the file
// had at each.
type watchRec struct {
	path string
	mu   sync.Mutex
	seen []string
}

func (r *watchRec) onChange() {
	b, _ := os.ReadFile(r.path)
	r.mu.Lock()
	r.seen = append(r.seen, string(b))
	r.mu.Unlock()
}

func (r *watchRec) calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

// watchFile starts a watcher on path, whose loaded content is the file's
// now, and closes it at cleanup.
func watchFile(t *testing.T, path string) (*configWatcher, *watchRec) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return watchFrom(t, path, sha256.Sum256(b))
}

func watchFrom(t *testing.T, path string, last [sha256.Size]byte) (*configWatcher, *watchRec) {
	return watchWith(t, path, last, nil)
}

func watchWith(t *testing.T, path string, last [sha256.Size]byte, o *configWatchOptions) (*configWatcher, *watchRec) {
	t.Helper()
	rec := &watchRec{path: path}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cw, err := newConfigWatcher(path, last, rec.onChange, log, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cw.Close(); err != nil {
			t.Error(err)
		}
	})
	waitChecks(t, cw, 0) // the first check, at start
	return cw, rec
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", p)
	return len(p), nil
}

// step runs change and waits until the watcher has checked the file after
// it (debounced: one check for the burst).
func step(t *testing.T, cw *configWatcher, what string, change func() error) {
	t.Helper()
	before := cw.checks.Load()
	if err := change(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	waitChecks(t, cw, before)
}

func waitChecks(t *testing.T, cw *configWatcher, before int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for cw.checks.Load() <= before {
		if time.Now().After(deadline) {
			t.Fatalf("the watcher checked nothing within 10s (checks %d)", cw.checks.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func wantCalls(t *testing.T, rec *watchRec, want ...string) {
	t.Helper()
	got := rec.calls()
	if fmt.Sprint(got) != fmt.Sprint(want) || len(got) != len(want) {
		t.Fatalf("onChange saw %q, want %q", got, want)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// configMap lays dir out as the kubelet mounts a ConfigMap:
//
//	dir/config.yaml -> ..data/config.yaml
//	dir/..data      -> ..<ts>
//	dir/..<ts>/config.yaml
type configMap struct {
	dir string
	ts  string // the current timestamped directory
	gen int
}

func newConfigMap(t *testing.T, content string) *configMap {
	t.Helper()
	m := &configMap{dir: t.TempDir()}
	m.ts = m.write(t, content)
	if err := os.Symlink(m.ts, filepath.Join(m.dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("..data", "config.yaml"), filepath.Join(m.dir, "config.yaml")); err != nil {
		t.Fatal(err)
	}
	return m
}

func (m *configMap) path() string { return filepath.Join(m.dir, "config.yaml") }

// write makes a new timestamped directory holding content, and returns its name.
func (m *configMap) write(t *testing.T, content string) string {
	t.Helper()
	m.gen++
	ts := fmt.Sprintf("..2026_12_07_10_00_%02d.%d", m.gen, 1000+m.gen)
	if err := os.Mkdir(filepath.Join(m.dir, ts), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(m.dir, ts, "config.yaml"), content)
	return ts
}

// swap updates the ConfigMap as the kubelet's AtomicWriter does: a new
// timestamped directory, a ..data_tmp symlink to it renamed over ..data;
// the old directory is removed by removeOld (at once, or later).
func (m *configMap) swap(t *testing.T, content string) (old string) {
	t.Helper()
	old, m.ts = m.ts, m.write(t, content)
	tmp := filepath.Join(m.dir, "..data_tmp")
	if err := os.Symlink(m.ts, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(m.dir, "..data")); err != nil {
		t.Fatal(err)
	}
	return old
}

func (m *configMap) removeOld(old string) error { return os.RemoveAll(filepath.Join(m.dir, old)) }

func TestConfigWatchConfigMap(t *testing.T) {
	m := newConfigMap(t, "v1")
	cw, rec := watchFile(t, m.path())

	// The whole update, old directory removed right after: one call.
	step(t, cw, "swap to v2", func() error { return m.removeOld(m.swap(t, "v2")) })
	wantCalls(t, rec, "v2")

	// The swap, then the old directory's removal on its own: the removal
	// is checked and changes nothing.
	var old string
	step(t, cw, "swap to v3", func() error { old = m.swap(t, "v3"); return nil })
	wantCalls(t, rec, "v2", "v3")
	step(t, cw, "remove the old directory", func() error { return m.removeOld(old) })
	wantCalls(t, rec, "v2", "v3")

	// An update with the same content (the kubelet rewrites on a resync
	// of another key, say): no call.
	step(t, cw, "swap to the same content", func() error { return m.removeOld(m.swap(t, "v3")) })
	wantCalls(t, rec, "v2", "v3")
	step(t, cw, "swap to v4", func() error { return m.removeOld(m.swap(t, "v4")) })
	wantCalls(t, rec, "v2", "v3", "v4")
}

func TestConfigWatchNoChange(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	writeFile(t, path, "v1")
	cw, rec := watchFile(t, path)
	step(t, cw, "chmod", func() error { return os.Chmod(path, 0o600) })
	step(t, cw, "touch", func() error { now := time.Now(); return os.Chtimes(path, now, now) })
	step(t, cw, "rewrite the same bytes", func() error { return os.WriteFile(path, []byte("v1"), 0o600) })
	step(t, cw, "an editor's swap file", func() error {
		swp := filepath.Join(dir, ".config.yaml.swp")
		if err := os.WriteFile(swp, []byte("junk"), 0o600); err != nil {
			return err
		}
		return os.Remove(swp)
	})
	step(t, cw, "another file of the directory", func() error { return os.WriteFile(filepath.Join(dir, "other.yaml"), []byte("x"), 0o644) })
	wantCalls(t, rec)
	// And a real change after all that is seen.
	step(t, cw, "write v2", func() error { return os.WriteFile(path, []byte("v2"), 0o600) })
	wantCalls(t, rec, "v2")
}

func TestConfigWatchRenameOver(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	writeFile(t, path, "v1")
	cw, rec := watchFile(t, path)
	// Twice: a watch on the file itself would have lost it at the first.
	for _, v := range []string{"v2", "v3"} {
		step(t, cw, "rename "+v+" over the file", func() error {
			tmp := filepath.Join(dir, ".config.yaml.tmp")
			if err := os.WriteFile(tmp, []byte(v), 0o644); err != nil {
				return err
			}
			return os.Rename(tmp, path)
		})
	}
	wantCalls(t, rec, "v2", "v3")
	// vim's way: the file renamed to a backup, a new one written, the
	// backup removed.
	step(t, cw, "vim's backup and write", func() error {
		if err := os.Rename(path, path+"~"); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte("v4"), 0o644); err != nil {
			return err
		}
		return os.Remove(path + "~")
	})
	wantCalls(t, rec, "v2", "v3", "v4")
}

func TestConfigWatchCopy(t *testing.T) {
	cp, err := exec.LookPath("cp")
	if err != nil {
		t.Fatalf("cp: %v", err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	writeFile(t, path, "v1")
	src := filepath.Join(t.TempDir(), "new.yaml")
	writeFile(t, src, "v2 from cp")
	cw, rec := watchFile(t, path)
	step(t, cw, "cp over the file", func() error {
		if out, err := exec.Command(cp, src, path).CombinedOutput(); err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		return nil
	})
	wantCalls(t, rec, "v2 from cp")
}

// TestConfigWatchBurst: ten writes in a row are one change, seen with the
// last content.
func TestConfigWatchBurst(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	writeFile(t, path, "v0")
	// A quiet window far longer than the ten writes take, even on a
	// loaded machine: the test is about coalescing, not about 150 ms.
	cw, rec := watchWith(t, path, sha256.Sum256([]byte("v0")), &configWatchOptions{Quiet: 2 * time.Second, MaxWait: 20 * time.Second})
	step(t, cw, "ten writes", func() error {
		for i := 1; i <= 10; i++ {
			if err := os.WriteFile(path, fmt.Appendf(nil, "v%d", i), 0o644); err != nil {
				return err
			}
		}
		return nil
	})
	wantCalls(t, rec, "v10")
}

// TestConfigWatchStart: a change between the load and the watch's start
// is seen by its first check; none is reported when the file is as loaded.
func TestConfigWatchStart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	writeFile(t, path, "v2")
	_, rec := watchFrom(t, path, sha256.Sum256([]byte("v1")))
	wantCalls(t, rec, "v2")
	_, rec = watchFrom(t, path, sha256.Sum256([]byte("v2")))
	wantCalls(t, rec)
}

// TestConfigWatchSymlinkElsewhere: the config file is a symlink to a file
// in another directory: a change there is seen, and so is the link moved
// to a third directory, then a change in that one.
func TestConfigWatchSymlinkElsewhere(t *testing.T) {
	dir, a, b := t.TempDir(), t.TempDir(), t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	writeFile(t, filepath.Join(a, "real.yaml"), "a1")
	writeFile(t, filepath.Join(b, "real.yaml"), "b1")
	if err := os.Symlink(filepath.Join(a, "real.yaml"), path); err != nil {
		t.Fatal(err)
	}
	cw, rec := watchFile(t, path)
	step(t, cw, "write the target", func() error { return os.WriteFile(filepath.Join(a, "real.yaml"), []byte("a2"), 0o644) })
	wantCalls(t, rec, "a2")
	step(t, cw, "point the link elsewhere", func() error {
		tmp := filepath.Join(dir, "link.tmp")
		if err := os.Symlink(filepath.Join(b, "real.yaml"), tmp); err != nil {
			return err
		}
		return os.Rename(tmp, path)
	})
	wantCalls(t, rec, "a2", "b1")
	step(t, cw, "write the new target", func() error { return os.WriteFile(filepath.Join(b, "real.yaml"), []byte("b2"), 0o644) })
	wantCalls(t, rec, "a2", "b1", "b2")
}

// TestConfigWatchMissing: a file that disappears reloads nothing; back
// with the loaded content, nothing either; with other content, a change.
func TestConfigWatchMissing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	writeFile(t, path, "v1")
	cw, rec := watchFile(t, path)
	step(t, cw, "remove", func() error { return os.Remove(path) })
	step(t, cw, "back as it was", func() error { return os.WriteFile(path, []byte("v1"), 0o644) })
	wantCalls(t, rec)
	step(t, cw, "changed", func() error { return os.WriteFile(path, []byte("v2"), 0o644) })
	wantCalls(t, rec, "v2")
}

// TestConfigWatchLoaded: content a SIGHUP reload loaded is not a change
// when the watch sees it afterwards.
func TestConfigWatchLoaded(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	writeFile(t, path, "v1")
	cw, rec := watchFile(t, path)
	cw.loaded(sha256.Sum256([]byte("v2")))
	step(t, cw, "write what was loaded", func() error { return os.WriteFile(path, []byte("v2"), 0o644) })
	wantCalls(t, rec)
}
