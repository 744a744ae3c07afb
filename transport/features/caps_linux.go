//go:build linux

package features

import (
	"golang.org/x/sys/unix"
)

// sockmapCaps are the capabilities the sockmap needs, in the order a
// message names them; CAP_SYS_ADMIN only where bpffs must be mounted.
var sockmapCaps = []struct {
	name string
	bit  uint
}{
	{"CAP_BPF", unix.CAP_BPF},
	{"CAP_NET_ADMIN", unix.CAP_NET_ADMIN},
}

// missingCaps returns the sockmap's capabilities this process lacks in
// its effective set (capget), CAP_SYS_ADMIN included if bpffs is not at
// /sys/fs/bpf; nil if it lacks none or capget fails.
func missingCaps() []string {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return nil
	}
	has := func(bit uint) bool { return data[bit/32].Effective&(1<<(bit%32)) != 0 }
	var missing []string
	for _, c := range sockmapCaps {
		if !has(c.bit) {
			missing = append(missing, c.name)
		}
	}
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/bpf", &st); (err != nil || st.Type != unix.BPF_FS_MAGIC) && !has(unix.CAP_SYS_ADMIN) {
		missing = append(missing, "CAP_SYS_ADMIN")
	}
	return missing
}
