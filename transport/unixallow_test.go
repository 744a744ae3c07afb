package transport_test

import (
	"testing"

	"github.com/roadrunner-wasm/roadrunner/transport"
)

func TestUnixAllowAdmits(t *testing.T) {
	for _, tc := range []struct {
		name     string
		allow    *transport.UnixAllow
		uid, gid uint32
		want     bool
	}{
		{"nil", nil, 1000, 1000, true},
		{"empty lists", &transport.UnixAllow{}, 1000, 1000, true},
		{"empty non-nil lists", &transport.UnixAllow{UIDs: []uint32{}, GIDs: []uint32{}}, 1000, 1000, true},
		{"uid match", &transport.UnixAllow{UIDs: []uint32{0, 1000}}, 1000, 5, true},
		{"uid miss", &transport.UnixAllow{UIDs: []uint32{0, 1000}}, 1001, 1000, false},
		{"gid match", &transport.UnixAllow{GIDs: []uint32{100}}, 1000, 100, true},
		{"gid miss", &transport.UnixAllow{GIDs: []uint32{100}}, 100, 1000, false},
		{"gid match, uid miss", &transport.UnixAllow{UIDs: []uint32{0}, GIDs: []uint32{100}}, 1000, 100, true},
		{"uid match, gid miss", &transport.UnixAllow{UIDs: []uint32{0}, GIDs: []uint32{100}}, 0, 1000, true},
		{"neither", &transport.UnixAllow{UIDs: []uint32{0}, GIDs: []uint32{100}}, 1000, 1000, false},
		{"unmapped id is nobody", &transport.UnixAllow{UIDs: []uint32{0}}, 65534, 65534, false},
	} {
		if got := tc.allow.Admits(tc.uid, tc.gid); got != tc.want {
			t.Errorf("%s: %+v admits uid %d gid %d: %v, want %v", tc.name, tc.allow, tc.uid, tc.gid, got, tc.want)
		}
	}
}
