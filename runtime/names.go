package runtime

import (
	"sync"
	"sync/atomic"
)

// NameCache turns the bytes of a function name read from guest memory into a
// string without allocating once the name has been seen. Engines use it for
// send's name argument, so that steady-state sends allocate nothing. It is
// safe for concurrent use; it remembers at most 256 names and allocates a new
// string for each name beyond that.
type NameCache struct {
	names atomic.Pointer[map[string]string]
	mu    sync.Mutex
}

const nameCacheMax = 256

// String returns b as a string. b may be a view of guest memory: the result
// never aliases it.
func (c *NameCache) String(b []byte) string {
	if m := c.names.Load(); m != nil {
		if s, ok := (*m)[string(b)]; ok { // no allocation: the compiler looks up without converting
			return s
		}
	}
	s := string(b)
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.names.Load()
	if old != nil && len(*old) >= nameCacheMax {
		return s
	}
	next := make(map[string]string, 1+lenOf(old))
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	next[s] = s
	c.names.Store(&next)
	return s
}

func lenOf(m *map[string]string) int {
	if m == nil {
		return 0
	}
	return len(*m)
}
