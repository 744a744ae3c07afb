package node

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roadrunner-wasm/roadrunner/runtime"
)

// admission is a function's gate in front of its pool: at most size
// deliveries hold an instance at once, the others wait in a queue of at
// most queueMax. It is fair between sources (an HTTP client's address, a
// peer node's): a freed instance goes to the waiting source that holds
// the fewest, the oldest of its waiters first, so that a source sending
// many payloads (or payloads that stall) cannot keep another waiting
// behind all of them (ties go to the source served longest ago: turns
// between sources that hold none); a full queue makes room for a newcomer by refusing
// the newest waiter of the source with the most waiting. A source alone
// may use every instance unless perSource caps it; while another source
// is active (holds or waits for an instance, or was given one within
// reserveWindow), a source that holds one already does not take the last
// free instance of a pool of two or more: it waits, so that one source
// cannot hold every instance (with payloads that stall, say) while others
// call.
//
// The uncontended path takes a lock and does not allocate.
type admission struct {
	size      int
	queueMax  int // 0: no queue
	perSource int // 0: no cap

	mu      sync.Mutex
	busy    int
	sources map[string]*sourceState // sources seen lately (see grant)
	waiters []*waiter               // oldest first
	grants  uint64                  // instances handed out so far
	// The sources of the two latest grants to different sources, and
	// when: whether another source was active lately (reserve).
	last, prev     string
	lastAt, prevAt time.Time

	queued atomic.Int64 // len(waiters), for rr_function_queue_length
}

// sourceState is what one source holds and waits for. A source's state
// stays in the map when it holds and waits for nothing (until the map
// grows past maxIdleSources), so that a source that comes and goes
// allocates once and costs one map lookup per delivery.
type sourceState struct {
	held, waiting int
	last          uint64 // admission.grants when it was last given an instance
}

type waiter struct {
	source  string
	decided bool       // granted or refused: under admission.mu
	result  chan error // nil: admitted; else why refused
}

// Refusals of admission. They carry runtime.CodeBusy: the caller may try
// again (HTTP 503 with Retry-After).
var (
	errQueueFull     = fmt.Errorf("every instance busy and the queue full: %w", runtime.CodeBusy)
	errQueueDeadline = fmt.Errorf("waited for an instance until the invocation's deadline: %w", runtime.CodeBusy)
	errNoIdle        = fmt.Errorf("no idle instance (the function is already on the send chain): %w", runtime.CodeBusy)
)

// Reasons of rr_function_queue_refused_total.
const (
	queueFull     = "queue_full"
	queueDeadline = "deadline"
)

func newAdmission(fc *FunctionConfig) *admission {
	a := &admission{size: fc.Pool, perSource: fc.MaxPerSource, sources: map[string]*sourceState{}}
	if fc.Queue > 0 {
		a.queueMax = fc.Queue
	}
	return a
}

// capped reports whether source holds all perSource allows. Under a.mu.
func (a *admission) capped(source string) bool {
	return a.perSource > 0 && a.state(source).held >= a.perSource
}

// maxIdleSources bounds the states kept for sources that hold and wait
// for nothing.
const maxIdleSources = 256

// none is the state of a source not in the map.
var none sourceState

// state is source's state; none (not to be written) if it has none.
// Under a.mu.
func (a *admission) state(source string) *sourceState {
	if st := a.sources[source]; st != nil {
		return st
	}
	return &none
}

// add returns source's state, made if it has none. Under a.mu.
func (a *admission) add(source string) *sourceState {
	st := a.sources[source]
	if st == nil {
		if len(a.sources) >= maxIdleSources {
			for s, x := range a.sources {
				if x.held <= 0 && x.waiting <= 0 {
					delete(a.sources, s)
				}
			}
		}
		st = &sourceState{}
		a.sources[source] = st
	}
	return st
}

// active is how many sources hold or wait for an instance, up to 2.
// Under a.mu.
func (a *admission) active() int {
	n := 0
	for _, st := range a.sources {
		if st.held > 0 || st.waiting > 0 {
			if n++; n == 2 {
				break
			}
		}
	}
	return n
}

// reserveWindow is how long after its last grant a source counts as
// active for the reserve: long enough to span the gaps between the calls
// of a steady caller, short enough that a lone source soon has the whole
// pool again.
const reserveWindow = time.Second

// grant gives source an instance at now. Under a.mu.
func (a *admission) grant(source string, now time.Time) {
	st := a.add(source)
	st.held++
	a.grants++
	st.last = a.grants
	if source != a.last {
		a.prev, a.prevAt = a.last, a.lastAt
	}
	a.last, a.lastAt = source, now
}

// reserved reports whether source must leave the last free instance to
// other sources (see admission): the pool has two or more instances,
// source holds one already, one is free, and another source is active.
// Under a.mu.
func (a *admission) reserved(source string, now time.Time) bool {
	if a.size < 2 || a.busy != a.size-1 || a.state(source).held == 0 {
		return false
	}
	if a.active() > 1 {
		return true // another source holds or waits
	}
	return a.last != source && now.Sub(a.lastAt) < reserveWindow ||
		a.prev != source && a.prev != "" && now.Sub(a.prevAt) < reserveWindow
}

// drop lowers source's held and waiting counts by held and waiting.
// Under a.mu.
func (a *admission) drop(source string, held, waiting int) {
	if st := a.sources[source]; st != nil {
		st.held -= held
		st.waiting -= waiting
	}
}

// acquire admits a delivery from source, waiting in the queue until an
// instance is free, ctx ends (errQueueDeadline, or ctx's error if it was
// canceled, not timed out) or a newcomer takes its place (errQueueFull).
// With noWait, it fails at once (errNoIdle) rather than wait.
// An admitted delivery must release.
// now is the time of the call: the caller has it already (the clock is not
// free on every machine).
func (a *admission) acquire(ctx context.Context, source string, noWait bool, m *functionMetrics, now time.Time) error {
	a.mu.Lock()
	if a.busy < a.size && !a.capped(source) && !a.reserved(source, now) {
		// A free instance with waiters still queued means those are
		// capped or reserved: this source is neither, and takes it.
		a.busy++
		a.grant(source, now)
		a.mu.Unlock()
		return nil
	}
	if noWait {
		a.mu.Unlock()
		return errNoIdle
	}
	if len(a.waiters) >= a.queueMax && !a.makeRoom(source, m) {
		a.mu.Unlock()
		m.refused(queueFull)
		return errQueueFull
	}
	w := &waiter{source: source, result: make(chan error, 1)}
	a.waiters = append(a.waiters, w)
	a.add(source).waiting++
	a.queued.Store(int64(len(a.waiters)))
	a.mu.Unlock()
	select {
	case err := <-w.result:
		if err == nil {
			m.queueWait.Observe(time.Since(now).Seconds())
		}
		return err
	case <-ctx.Done():
	}
	a.mu.Lock()
	if w.decided {
		// Granted (or refused) as ctx ended: take what was decided; an
		// admitted delivery fails on ctx and releases.
		a.mu.Unlock()
		return <-w.result
	}
	a.remove(w)
	a.mu.Unlock()
	if ctx.Err() == context.DeadlineExceeded {
		m.refused(queueDeadline)
		return errQueueDeadline
	}
	return &runtime.DeliverError{Op: "wait for an instance", Code: runtime.CodeCanceled, Err: ctx.Err()}
}

// makeRoom refuses the newest waiter of the source with the most waiting,
// if that is more than source would have with one more: a full queue is
// shared between sources too. It reports whether there is room now.
// Under a.mu.
func (a *admission) makeRoom(source string, m *functionMetrics) bool {
	if a.queueMax == 0 {
		return false
	}
	heaviest, most := "", 0
	for s, st := range a.sources {
		if st.waiting > most {
			heaviest, most = s, st.waiting
		}
	}
	if most <= a.state(source).waiting+1 {
		return false
	}
	for i := len(a.waiters) - 1; i >= 0; i-- {
		if w := a.waiters[i]; w.source == heaviest {
			a.remove(w)
			w.decided = true
			w.result <- errQueueFull
			m.refused(queueFull)
			return true
		}
	}
	return false
}

// remove takes w out of the queue. Under a.mu.
func (a *admission) remove(w *waiter) {
	for i, x := range a.waiters {
		if x == w {
			copy(a.waiters[i:], a.waiters[i+1:])
			a.waiters[len(a.waiters)-1] = nil
			a.waiters = a.waiters[:len(a.waiters)-1]
			break
		}
	}
	a.drop(w.source, 0, 1)
	a.queued.Store(int64(len(a.waiters)))
}

// release ends an admitted delivery from source: its instance goes to the
// waiter whose source holds the fewest (not capped or reserved), then
// whose source was served longest ago, then the oldest.
func (a *admission) release(source string) {
	a.mu.Lock()
	a.drop(source, 1, 0)
	if len(a.waiters) > 0 {
		now := time.Now()
		a.busy-- // as the waiters see it: this instance is free
		best := -1
		var bestSt sourceState
		for i, w := range a.waiters {
			if a.capped(w.source) || a.reserved(w.source, now) {
				continue
			}
			st := a.state(w.source)
			if best < 0 || st.held < bestSt.held || st.held == bestSt.held && st.last < bestSt.last {
				best, bestSt = i, *st
			}
		}
		if best >= 0 {
			w := a.waiters[best]
			a.remove(w)
			a.busy++
			a.grant(w.source, now)
			w.decided = true
			w.result <- nil
		}
		a.mu.Unlock()
		return
	}
	a.busy--
	a.mu.Unlock()
}
