package node

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"
)

// ClusterView is a node's directory as GET /v1/cluster shows it.
type ClusterView struct {
	Node       string     `json:"node"`       // this node's name
	Instance   string     `json:"instance"`   // its instance id (hex), new at each start
	Host       string     `json:"host"`       // its host identity (hex boot id), "" if unknown
	Generation uint64     `json:"generation"` // of its function list
	Functions  []string   `json:"functions"`  // the functions it hosts
	Route      string     `json:"route"`      // node.route
	DNS        *DNSView   `json:"dns,omitempty"`
	Peers      []PeerView `json:"peers"`
}

// DNSView is the state of discovery, with cluster.dns set.
type DNSView struct {
	Name      string    `json:"name"`
	Addresses []string  `json:"addresses"` // what the last successful lookup found
	LastOK    time.Time `json:"last_ok,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	ErrorAt   time.Time `json:"error_at,omitzero"`
	Failures  int64     `json:"failures"`
}

// PeerView is one peer of the directory.
type PeerView struct {
	Name     string `json:"name"`     // "" until its directory is had
	Instance string `json:"instance"` // "" for a static peer, or until known
	Address  string `json:"address"`  // the tcp:// (or static unix://) address it was found at
	Host     string `json:"host"`     // its host identity, "" if unknown
	SameHost bool   `json:"same_host"`
	// State is connecting, up, down or self (this node's own address,
	// as DNS lists it too).
	State string `json:"state"`
	// Path is what transfers to it use: unix (its socket, on this host)
	// or tcp; "" for this node's own address.
	Path       string   `json:"path"`
	Source     string   `json:"source"` // static or dns
	Functions  []string `json:"functions"`
	Generation uint64   `json:"generation"`
	InFlight   int64    `json:"in_flight"`
	LastError  string   `json:"last_error"`
}

// Cluster returns the node's directory: itself, its peers and what each
// hosts, as GET /v1/cluster shows it.
func (n *Node) Cluster() ClusterView {
	cl := n.cl
	self := cl.directory()
	v := ClusterView{
		Node:       self.Name,
		Instance:   instanceID(self.Instance),
		Generation: self.Generation,
		Functions:  slices.Clone(self.Functions),
		Route:      n.cfg.Node.Route,
		Peers:      []PeerView{},
	}
	if self.HasHost {
		v.Host = instanceID(self.Host)
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if c := cl.conf.Load(); c.DNS != "" {
		d := cl.dns
		v.DNS = &DNSView{Name: c.DNS, Addresses: slices.Clone(d.addresses), LastOK: d.lastOK, LastError: d.lastErr, ErrorAt: d.lastErrAt, Failures: d.failures}
		if v.DNS.Addresses == nil {
			v.DNS.Addresses = []string{}
		}
	}
	for _, m := range cl.members {
		p := PeerView{
			Name:       m.name,
			Instance:   instanceID(m.instance),
			Address:    m.address,
			SameHost:   m.sameHost.Load(),
			State:      m.state,
			Path:       "",
			Source:     "dns",
			Functions:  slices.Clone(m.functions),
			Generation: m.gen,
			InFlight:   m.inFlight.Load(),
			LastError:  m.lastError,
		}
		if tp := m.peer(); tp != nil && m.state != StateSelf {
			p.Path = tp.Path().String()
		}
		if m.hasHost {
			p.Host = instanceID(m.host)
		}
		if m.static {
			p.Source = "static"
		}
		if p.Functions == nil {
			p.Functions = []string{}
		}
		v.Peers = append(v.Peers, p)
	}
	slices.SortFunc(v.Peers, func(a, b PeerView) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.Address, b.Address)
	})
	return v
}

// serveCluster is GET /v1/cluster.
func (n *Node) serveCluster(w http.ResponseWriter, r *http.Request) {
	if !n.authorize(w, r) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(n.Cluster())
}
