package transport

import (
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

// sameHost reports whether a peer that said h runs on this host: both
// know their boot id and it is the same. The boot id is the kernel's, the
// same in every network namespace and container of the host; addresses
// are not (each namespace has its own).
func sameHost(h *wire.Hello) bool {
	id, err := HostID()
	return err == nil && h.HasHost && h.Host == id
}

// HostID returns this host's identity as the HELLO exchange carries it:
// the kernel's boot id (/proc/sys/kernel/random/boot_id), random at each
// boot and the same for every process, network namespace and container
// of the host.
//
// For tests only, the environment variable RR_TEST_HOST_ID (a UUID)
// replaces it: processes of one machine then pass for nodes of different
// hosts, which no longer see each other as same-host peers (no sockmap,
// no unix socket between them). It cannot make two hosts pass for one:
// the sockmap and the unix socket each check, on their own, that the
// other end is really there.
func HostID() ([16]byte, error) { return hostID() }

// HostIDEnv is the environment variable that replaces HostID, for tests.
const HostIDEnv = "RR_TEST_HOST_ID"

var hostID = sync.OnceValues(func() ([16]byte, error) {
	var id [16]byte
	path, b := HostIDEnv, []byte(os.Getenv(HostIDEnv))
	var err error
	if len(b) == 0 {
		path = "/proc/sys/kernel/random/boot_id"
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return id, fmt.Errorf("host id: %w", err)
	}
	s := strings.ReplaceAll(strings.TrimSpace(string(b)), "-", "")
	if n, err := hex.Decode(id[:], []byte(s)); err != nil || n != 16 || len(s) != 32 {
		return id, fmt.Errorf("host id: %s: %q is not a UUID", path, b)
	}
	return id, nil
})
