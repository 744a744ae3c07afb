package transport

// FramesInProgress counts s's connections in the middle of a frame: from
// its first byte until it is answered. Those are never evicted.
func FramesInProgress(s *Server) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.conns {
		if c.phase.Load() == phaseFrame {
			n++
		}
	}
	return n
}
