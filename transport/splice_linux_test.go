//go:build linux

package transport_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/roadrunner-wasm/roadrunner/internal/privileged"
	"github.com/roadrunner-wasm/roadrunner/transport"
)

// TestSpliceLastPieceNotHeld: SPLICE_F_MORE tells TCP more bytes follow, so
// on a payload's last piece it would hold that piece back (like TCP_CORK)
// until a timer fires; the splice mechanism must not pass it there. One
// piece (1 B), and several (more than a pipe holds).
func TestSpliceLastPieceNotHeld(t *testing.T) {
	s := startServer(t, transport.PathTCP, &sink{}, nil)
	p := newPeer(t, s.addr, &transport.DialOptions{Mechanism: transport.MechanismSplice})
	for _, size := range []int{1, 3<<20 + 5} {
		sent, err := p.Send(context.Background(), "fn", pattern(size, 11), nil)
		if err != nil {
			t.Fatalf("%d B: %v", size, err)
		}
		if sent.Mechanism != transport.MechanismSplice {
			privileged.Skip(t, fmt.Sprintf("%d B sent with %v: splice is refused here", size, sent.Mechanism))
		}
		more, ok := transport.LastSpliceMore(p)
		if !ok {
			t.Fatalf("%d B: no splicing connection idle after the send", size)
		}
		if more {
			t.Errorf("%d B: the last piece was spliced with SPLICE_F_MORE: TCP holds it back", size)
		}
	}
}
