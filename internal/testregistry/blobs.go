package testregistry

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// blobStore keeps blobs as dir/ALGORITHM/HEX files, written by
// go-containerregistry's disk handler (which checks the digest of an
// upload), and read back unchecked, as a registry on a storage that
// corrupts them without noticing would serve them.
type blobStore struct {
	dir  string
	disk registry.BlobHandler
}

func newBlobStore(dir string) *blobStore {
	return &blobStore{dir: dir, disk: registry.NewDiskBlobHandler(dir)}
}

func (b *blobStore) path(h v1.Hash) string { return filepath.Join(b.dir, h.Algorithm, h.Hex) }

func (b *blobStore) Stat(_ context.Context, _ string, h v1.Hash) (int64, error) {
	fi, err := os.Stat(b.path(h))
	if errors.Is(err, os.ErrNotExist) {
		return 0, registry.ErrNotFound
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

func (b *blobStore) Get(_ context.Context, _ string, h v1.Hash) (io.ReadCloser, error) {
	f, err := os.Open(b.path(h))
	if errors.Is(err, os.ErrNotExist) {
		return nil, registry.ErrNotFound
	}
	return f, err
}

func (b *blobStore) Put(ctx context.Context, repo string, h v1.Hash, rc io.ReadCloser) error {
	return b.disk.(registry.BlobPutHandler).Put(ctx, repo, h, rc)
}
