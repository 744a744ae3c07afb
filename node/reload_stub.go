package node

// STUB: drop me. A stand-in for the lead's Reload, so that cmd/rrnode and
// tests/ compile on the reload branch; it reloads nothing.

import (
	"context"
	"errors"
)

// ReloadReport says what a reload changed.
type ReloadReport struct {
	Added, Removed, Replaced []string // function names
	Peers                    bool     // the peers section changed and was applied
	Restart                  []string // config fields that changed but apply only after a restart
}

// Changed reports whether the reload changed anything.
func (r *ReloadReport) Changed() bool {
	return len(r.Added)+len(r.Removed)+len(r.Replaced)+len(r.Restart) > 0 || r.Peers
}

// Reload is a stub: it returns an error.
func (n *Node) Reload(ctx context.Context, load func() (*Config, error)) (*ReloadReport, error) {
	return nil, errors.New("node: Reload is not implemented (stub)")
}
