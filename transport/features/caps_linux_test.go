//go:build linux

package features

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/roadrunner-wasm/roadrunner/internal/privileged"
)

// dropBPFEnv, set, makes this test binary drop CAP_BPF and CAP_SYS_ADMIN
// (which grants bpf(2) too) from its bounding set and exec itself again
// (without the variable), so that it runs as root without them in its
// effective set.
const dropBPFEnv = "RR_TEST_FEATURES_DROP_BPF"

func init() {
	if os.Getenv(dropBPFEnv) == "" {
		return
	}
	// init runs on the main thread, locked to it: the bounding set
	// dropped here is the one execve sees.
	for _, c := range []uintptr{unix.CAP_BPF, unix.CAP_SYS_ADMIN} {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, c, 0, 0, 0); err != nil {
			fmt.Fprintf(os.Stderr, "%s: drop capability %d: %v\n", dropBPFEnv, c, err)
			os.Exit(97)
		}
	}
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, dropBPFEnv+"=") {
			env = append(env, e)
		}
	}
	exe, err := os.Executable()
	if err == nil {
		err = syscall.Exec(exe, os.Args, env)
	}
	fmt.Fprintf(os.Stderr, "%s: exec: %v\n", dropBPFEnv, err)
	os.Exit(98)
}

// TestSockmapMissingCapability runs the sockmap probe in a child without
// CAP_BPF: the refusal names the capability, not a kernel version.
func TestSockmapMissingCapability(t *testing.T) {
	if os.Getenv("RR_TEST_FEATURES_CHILD") == "1" {
		fmt.Printf("probe: %v\n", HaveSockmap())
		return
	}
	privileged.RequireRoot(t)
	if err := HaveSockmap(); err != nil {
		privileged.Skip(t, "sockmap refused even with every capability: "+err.Error())
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestSockmapMissingCapability$", "-test.v")
	cmd.Env = append(os.Environ(), dropBPFEnv+"=1", "RR_TEST_FEATURES_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	text := string(out)
	const want = "this process lacks CAP_BPF (needs CAP_BPF and CAP_NET_ADMIN"
	if !strings.Contains(text, "probe: sockmap not supported: ") || !strings.Contains(text, want) || !strings.Contains(text, "(EPERM)") {
		t.Fatalf("the probe without CAP_BPF says:\n%s\nwant an EPERM naming CAP_BPF: %q", text, want)
	}
	if strings.Contains(text, "requires Linux") {
		t.Errorf("the probe without CAP_BPF blames the kernel version:\n%s", text)
	}
}
