package node

// InFlight is the number of invocations running, for tests that must act
// while one is.
func (n *Node) InFlight() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.inflight
}
