package ociwasm

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// cache is the content cache under a directory: blobs/sha256/HEX holds the
// content of digest sha256:HEX (a manifest or a layer), written whole
// through a temporary file and a rename. Content is checked against its
// name on every read; an entry that does not match is removed.
type cache struct{ dir string }

func (c cache) path(digest string) string {
	return filepath.Join(c.dir, "blobs", "sha256", strings.TrimPrefix(digest, "sha256:"))
}

// get returns the content of digest, or nil and no error if it is not
// cached. An entry larger than limit or not matching digest is removed and
// reported with ErrDigestMismatch.
func (c cache) get(digest string, limit int64) ([]byte, error) {
	if c.dir == "" {
		return nil, nil
	}
	p := c.path(digest)
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	if int64(len(b)) > limit || Digest(b) != digest {
		os.Remove(p)
		return nil, fmt.Errorf("%w: cached %s does not match its name (removed)", ErrDigestMismatch, p)
	}
	return b, nil
}

// put stores b, whose digest the caller checked, under digest.
func (c cache) put(digest string, b []byte) error {
	if c.dir == "" {
		return nil
	}
	p := c.path(digest)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	if err := WriteFile(p, b); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	return nil
}

// WriteFile writes b to file (mode 0644) whole or not at all: through a
// temporary file in the same directory, renamed over file, so that a
// reader sees the old content or the new one.
func WriteFile(file string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".tmp-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), file)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// Digest is b's digest as OCI writes it: "sha256:" and 64 hex digits.
func Digest(b []byte) string {
	h := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(h[:])
}
