package node

import (
	"fmt"
	"testing"
	"time"
)

// table is a route table for fn with the given members in tier 0 (this
// host's) and tier 1 (the others').
func table(fn string, near, far []*member) *routeTable {
	return &routeTable{fns: map[string]*replicas{fn: {tiers: [][]*member{near, far}}}}
}

func members(n int) []*member {
	ms := make([]*member, n)
	for i := range ms {
		ms[i] = &member{name: fmt.Sprint(i)}
	}
	return ms
}

// TestPick: the nearest tier with a peer that may take a send, the less
// loaded of two there, a peer in backoff skipped unless none may, the
// peer to avoid avoided.
func TestPick(t *testing.T) {
	near, far := members(2), members(3)
	tbl := table("f", near, far)
	if tbl.pick("g", nil) != nil {
		t.Fatal("a function nobody hosts picked a peer")
	}
	// Near is preferred; of its two, the less loaded wins whenever both
	// are drawn, and it is never the busier one more often than not.
	near[0].inFlight.Store(5)
	got := map[*member]int{}
	for range 1000 {
		got[tbl.pick("f", nil)]++
	}
	if got[near[0]]+got[near[1]] != 1000 || got[near[1]] <= got[near[0]] {
		t.Errorf("picks: near[0] (5 in flight) %d, near[1] (0) %d, others %d", got[near[0]], got[near[1]], 1000-got[near[0]]-got[near[1]])
	}
	// Avoiding near[1] leaves near[0].
	for range 100 {
		if m := tbl.pick("f", near[1]); m != near[0] {
			t.Fatalf("pick avoiding near[1] = %v, want near[0]", m.name)
		}
	}
	// Both near peers in backoff: a far one.
	later := time.Now().Add(time.Minute).UnixNano()
	near[0].downUntil.Store(later)
	near[1].downUntil.Store(later + 1)
	for range 100 {
		if m := tbl.pick("f", nil); m != far[0] && m != far[1] && m != far[2] {
			t.Fatalf("pick with the near peers down = %v, want a far one", m.name)
		}
	}
	// Every peer in backoff: the one whose backoff ends first.
	for i, m := range far {
		m.downUntil.Store(later + 10 + int64(i))
	}
	if m := tbl.pick("f", nil); m != near[0] {
		t.Fatalf("pick with every peer down = %v, want near[0], whose backoff ends first", m.name)
	}
}

// BenchmarkPick is routing's own cost per send: a table lookup and two
// random draws among n replicas.
func BenchmarkPick(b *testing.B) {
	for _, n := range []int{1, 2, 16} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			tbl := table("f", members(n), nil)
			for b.Loop() {
				if tbl.pick("f", nil) == nil {
					b.Fatal("no pick")
				}
			}
		})
	}
}
