package node

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/roadrunner-wasm/roadrunner/internal/ociwasm"
)

// Results of a reload, the values of rr_config_reloads_total's result.
const (
	ReloadApplied   = "applied"   // something changed, and is in force
	ReloadUnchanged = "unchanged" // nothing that applies changed
	ReloadInvalid   = "invalid"   // the configuration did not load or check
	ReloadFailed    = "failed"    // a module did not pull or load, a peer could not be made
)

// ReloadReport says what a reload changed.
type ReloadReport struct {
	// Added, Removed and Replaced name the functions the reload loaded,
	// took out and loaded anew (their module's bytes or their settings
	// changed), in configuration order.
	Added, Removed, Replaced []string
	// Peers is whether the peers section changed (and was applied).
	Peers bool
	// Cluster is whether the cluster section changed: discovery started
	// again with it.
	Cluster bool
	// Restart lists the fields that changed but apply only after a
	// restart (node.http, node.listen, …), each with the reason when it
	// is not plain; the configuration in force keeps their old values.
	Restart []string
}

// Changed reports whether the reload changed what the node serves.
func (r *ReloadReport) Changed() bool {
	return len(r.Added)+len(r.Removed)+len(r.Replaced) > 0 || r.Peers || r.Cluster
}

// reloadState serializes reloads (and close, which waits for one under
// way).
type reloadState struct {
	mu sync.Mutex
	// stop is canceled when Shutdown begins: a reload under way stops
	// where it is, changing nothing.
	stop   context.Context
	cancel context.CancelFunc
}

// errReloadDraining refuses a reload of a node that is shutting down.
var errReloadDraining = errors.New("reload: the node is shutting down")

// Reload reads the configuration again with load (LoadConfig of the same
// file, say, with what a program sets on top of it) and applies the
// difference, while invocations go on:
//
//   - a new function is loaded and takes invocations;
//   - a removed one takes no new invocation (a caller gets
//     runtime.CodeUnknownFunction: 404 over HTTP), finishes those in
//     flight, waits for an instance included, then closes;
//   - a function whose module (its bytes: a file rewritten, a tag that
//     names another digest now) or settings changed is replaced: new
//     invocations go to the new version as soon as it is loaded, the old
//     one finishes its own and closes;
//   - the static peers follow the peers section;
//   - a changed cluster section starts discovery again with it (the
//     peers DNS found are found again);
//   - node.registry applies to the modules this reload pulls.
//
// The peers of the cluster are told when the function list changes.
// Fields that cannot change under a running node (its addresses, keys,
// timeouts, route…) keep their values: ReloadReport.Restart
// names those that differ, and rr_config_restart_pending says so.
//
// Nothing changes unless everything could be loaded: a load or check
// error, a module that does not pull or compile, a peer that cannot be
// made fail the reload whole; it is logged, counted in
// rr_config_reloads_total{result="invalid"|"failed"} and returned. Reloads
// are serialized; a Shutdown stops one under way.
func (n *Node) Reload(ctx context.Context, load func() (*Config, error)) (*ReloadReport, error) {
	n.reload.mu.Lock()
	defer n.reload.mu.Unlock()
	if n.reload.stop.Err() != nil {
		return nil, errReloadDraining
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(n.reload.stop, func() { cancel(errReloadDraining) })
	defer stop()

	cfg, err := load()
	if err == nil {
		c := *cfg
		c.Functions = slices.Clone(cfg.Functions)
		c.Peers = slices.Clone(cfg.Peers)
		if err = c.check(); err == nil {
			cfg = &c
		}
	}
	if err != nil {
		return nil, n.reloadRefused(ReloadInvalid, err)
	}
	r, err := n.apply(ctx, cfg)
	if err != nil {
		return nil, n.reloadRefused(ReloadFailed, err)
	}
	result := ReloadUnchanged
	if r.Changed() {
		result = ReloadApplied
	}
	n.metrics.reloads.WithLabelValues(result).Inc()
	n.metrics.reloadOK.Set(1)
	pending := 0.0
	if len(r.Restart) > 0 {
		pending = 1
		n.log.Warn("config changes that need a restart: kept as they were", "fields", r.Restart)
	}
	n.metrics.restartPending.Set(pending)
	n.log.Info("config reloaded", "result", result, "added", r.Added, "removed", r.Removed, "replaced", r.Replaced, "peers", r.Peers, "restart", len(r.Restart) > 0)
	return r, nil
}

// reloadRefused counts and logs a reload that changed nothing, and
// returns its error.
func (n *Node) reloadRefused(result string, err error) error {
	n.metrics.reloads.WithLabelValues(result).Inc()
	n.metrics.reloadOK.Set(0)
	n.log.Error("config reload refused: nothing changed", "result", result, "err", err)
	return fmt.Errorf("reload: %w", err)
}

// apply makes cfg's functions and peers those in force.
func (n *Node) apply(ctx context.Context, cfg *Config) (*ReloadReport, error) {
	r := &ReloadReport{Restart: restartFields(&n.cfg, cfg)}
	if max := n.frameLimit; cfg.maxPayloadOfFunctions() > max {
		r.Restart = append(r.Restart, fmt.Sprintf("functions[].max_payload: over %d bytes, the largest a peer's frame may carry until a restart (HTTP invocations get the new limit now)", max))
	}
	cur := n.table.Load()
	next := &funcTable{fns: make(map[string]*function, len(cfg.Functions))}
	var fresh []*function // loaded by this reload: closed if it fails
	undo := func(err error) (*ReloadReport, error) {
		for _, f := range fresh {
			f.fn.Close(context.WithoutCancel(ctx))
		}
		return nil, err
	}
	for _, fc := range cfg.Functions {
		old := cur.fns[fc.Name]
		same := old != nil && old.cfg == fc
		if same && pinned(fc.Module) {
			// Content pinned by digest cannot change: neither pulled nor
			// read again (a reload of other things needs no registry).
			next.add(old)
			continue
		}
		m, err := n.readModule(ctx, fc, cfg.Node.Registry)
		if err != nil {
			return undo(err)
		}
		if same && old.digest == m.digest {
			next.add(old)
			continue
		}
		f, err := n.compile(ctx, fc, m, false)
		if err != nil {
			return undo(err)
		}
		fresh = append(fresh, f)
		next.add(f)
		if old == nil {
			r.Added = append(r.Added, fc.Name)
		} else {
			r.Replaced = append(r.Replaced, fc.Name)
		}
	}
	var gone []*function // removed or replaced
	for _, f := range cur.order {
		if next.fns[f.name] != f {
			gone = append(gone, f)
			if next.fns[f.name] == nil {
				r.Removed = append(r.Removed, f.name)
			}
		}
	}
	r.Peers = !reflect.DeepEqual(n.cfg.Peers, cfg.Peers)
	r.Cluster = n.cfg.Cluster != cfg.Cluster
	if ctx.Err() != nil {
		return undo(context.Cause(ctx))
	}
	if r.Peers {
		if err := n.cl.setStatic(cfg.Peers); err != nil {
			return undo(err)
		}
	}

	n.mu.Lock()
	n.cfg.Functions, n.cfg.Peers, n.cfg.Node.Registry, n.cfg.Cluster = cfg.Functions, cfg.Peers, cfg.Node.Registry, cfg.Cluster
	n.mu.Unlock()
	if r.Cluster {
		n.cl.setCluster(cfg.Cluster)
	}
	for _, f := range fresh {
		f.metrics = n.metrics.forFunction(f.name, f.fn, &f.adm.queued)
	}
	// The new table first, then the old functions retired: acquire relies
	// on that order.
	n.table.Store(next)
	for _, f := range gone {
		n.retire(f)
	}
	for _, name := range r.Removed {
		n.metrics.dropFunction(name)
	}
	if len(r.Added)+len(r.Removed) > 0 {
		names := make([]string, len(next.order))
		for i, f := range next.order {
			names[i] = f.name
		}
		n.cl.setFunctions(ctx, names)
	}
	return r, nil
}

// pinned reports whether module is an oci:// reference pinned by digest.
func pinned(module string) bool {
	if !ociwasm.IsReference(module) {
		return false
	}
	r, err := ociwasm.ParseReference(module)
	return err == nil && r.Pinned()
}

// maxPayloadOfFunctions is the largest max_payload of c's functions.
func (c *Config) maxPayloadOfFunctions() uint64 {
	var m uint64
	for _, f := range c.Functions {
		m = max(m, f.MaxPayload)
	}
	return m
}

// restartFields names the fields of the node section (but node.registry,
// which a reload applies) that differ between the configuration in force
// and next, as the YAML names them.
func restartFields(cur, next *Config) []string {
	a, b := cur.Node, next.Node
	a.Registry, b.Registry = RegistryConfig{}, RegistryConfig{}
	return diffFields("node", reflect.ValueOf(a), reflect.ValueOf(b), reflect.TypeFor[rawNode](), nil)
}

// derivedFields are Config fields the YAML does not have, computed from
// one it has (which a change reports).
var derivedFields = map[string]bool{"UnixGID": true} // from unix_group

// diffFields appends the names of the fields of structs a and b that
// differ: the yaml tags of raw's fields of the same Go names (raw is the
// section's struct in the YAML document), nested sections by their fields.
func diffFields(prefix string, a, b reflect.Value, raw reflect.Type, out []string) []string {
	t := a.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		if derivedFields[sf.Name] || reflect.DeepEqual(a.Field(i).Interface(), b.Field(i).Interface()) {
			continue
		}
		rf, ok := raw.FieldByName(sf.Name)
		if !ok {
			out = append(out, prefix+"."+sf.Name) // a field the YAML lacks: named anyway
			continue
		}
		name := prefix + "." + strings.Split(rf.Tag.Get("yaml"), ",")[0]
		if rf.Type.Kind() == reflect.Struct && rf.Type != nodeType {
			out = diffFields(name, a.Field(i), b.Field(i), rf.Type, out)
			continue
		}
		out = append(out, name)
	}
	return out
}
