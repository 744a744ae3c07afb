package node

import (
	"errors"
	"fmt"

	"github.com/roadrunner-wasm/roadrunner/runtime"
	"github.com/roadrunner-wasm/roadrunner/transport"
	"github.com/roadrunner-wasm/roadrunner/transport/features"
)

// errShmUnauthenticated refuses the shm path to a node without
// node.auth.keys: a file handing over the whole memory of a function
// goes only to a peer that proved it holds the cluster's key.
var errShmUnauthenticated = errors.New("the shm path needs node.auth.keys: it hands a function's whole memory to the peer, so only to one that authenticated")

// shmUsable says whether this node may use the shm path: it authenticates
// its peers, and this process may make, seal and map a memfd (a seccomp
// profile may refuse memfd_create).
func (n *Node) shmUsable() error {
	if n.cfg.Node.Auth.Keys == "" {
		return errShmUnauthenticated
	}
	return features.HaveSharedMemory()
}

// shmReason is the fallback reason of a refusal of the shm path.
func shmReason(err error) string {
	if errors.Is(err, errShmUnauthenticated) {
		return transport.ShmUnauthenticated
	}
	return features.Reason(err)
}

// SharedMemory implements transport.SharedSink: the memory file of the
// function named to, if it was loaded with shared_memory by an engine
// that can share.
func (n *Node) SharedMemory(to string) (transport.SharedMemory, error) {
	f := n.function(to)
	if f == nil {
		return nil, fmt.Errorf("no function %s: %w", to, transport.ErrNotShared)
	}
	if !f.cfg.SharedMemory {
		return nil, fmt.Errorf("function %s: shared_memory is off: %w", to, transport.ErrNotShared)
	}
	s, ok := f.fn.(runtime.Sharer)
	if !ok {
		return nil, fmt.Errorf("function %s: engine %s cannot share its memory: %w", to, n.eng.Name(), transport.ErrNotShared)
	}
	return s.SharedMemory()
}

// checkShared says at load what becomes of a function's shared_memory.
func (n *Node) checkShared(f *function) {
	if !f.cfg.SharedMemory {
		return
	}
	s, ok := f.fn.(runtime.Sharer)
	switch {
	case !ok:
		n.log.Warn("shared_memory: this engine cannot share a function's memory; its payloads come over the stream", "function", f.name, "engine", n.eng.Name())
	case !n.accels.shm:
		n.log.Info("shared_memory: the shm path is off on this node (--accel shm); payloads come over the stream", "function", f.name)
	default:
		if _, err := s.SharedMemory(); err != nil {
			n.log.Warn("shared_memory: the memory file was refused; payloads come over the stream", "function", f.name, "err", err)
		}
	}
}
