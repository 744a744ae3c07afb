package node

import "context"

// InFlight is the number of invocations running, for tests that must act
// while one is.
func (n *Node) InFlight() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.inflight
}

// AnnounceFunctions makes n announce fns as its function list, as a
// reload does (Node.Reload): a new generation, pushed to every peer up.
func AnnounceFunctions(n *Node, fns []string) {
	n.cl.setFunctions(context.Background(), fns)
}
