// Package ociwasm STUB: replaced by helper O's package at merge.
package ociwasm

import (
	"context"
	"errors"
	"strings"
	"time"
)

const Scheme = "oci://"

func IsReference(s string) bool { return strings.HasPrefix(s, Scheme) }

type Reference struct{ Registry, Repository, Tag, Digest string }

func ParseReference(s string) (Reference, error) { return Reference{}, nil }
func (r Reference) String() string                { return "" }
func (r Reference) Pinned() bool                  { return r.Digest != "" }

type Options struct {
	AuthFile  string
	PlainHTTP []string
	CAFile    string
	CacheDir  string
	Timeout   time.Duration
}

type Module struct {
	Bytes     []byte
	Digest    string
	Layer     string
	Reference string
	FromCache bool
}

func Pull(ctx context.Context, ref string, o *Options) (*Module, error) { return nil, errors.New("stub") }
