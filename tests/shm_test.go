package tests

// The shm path between two rrnode processes of one host: the receiving
// node hands the sender its function's memory file over the unix socket,
// and the sender copies each payload straight into it. Under a seccomp
// filter that refuses memfd_create the payloads go over the stream, and
// the fallback is counted; under Docker's default profile's decisions for
// the system calls the path uses, whatever it refuses falls back, counted.

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	seccomp "github.com/elastic/go-seccomp-bpf"
	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// refuseMemfd makes memfd_create fail with EPERM.
var refuseMemfd = refuseEPERM("memfd_create")

// shmSyscalls are the system calls the shm path makes beyond a plain
// unix-path node's.
var shmSyscalls = []string{"memfd_create", "fcntl", "ftruncate", "fallocate", "fstatfs", "mmap", "mprotect", "madvise", "munmap", "sendmsg", "recvmsg"}

// dockerShmRefused is what Docker's default profile refuses of
// shmSyscalls: those it allows only under a condition (an argument, a
// capability) count as refused.
func dockerShmRefused() []string {
	p := mobyseccomp.DefaultProfile()
	var refused []string
	for _, name := range shmSyscalls {
		allowed := false
		for _, sc := range p.Syscalls {
			if !slices.Contains(sc.Names, name) || sc.Action != specs.ActAllow || len(sc.Args) > 0 {
				continue
			}
			if sc.Includes != nil && (len(sc.Includes.Caps) > 0 || sc.Includes.MinKernel != nil) || sc.Excludes != nil && len(sc.Excludes.Caps) > 0 {
				continue
			}
			allowed = true
		}
		if !allowed && p.DefaultAction != specs.ActAllow {
			refused = append(refused, name)
		}
	}
	return refused
}

// dockerShmFilter is Docker's default profile as it bears on a node with
// --accel shm: io_uring refused with its errno (dockerIOURingFilter), and
// what it refuses of shmSyscalls refused with EPERM.
func dockerShmFilter() (seccomp.Filter, error) {
	f, err := dockerIOURingFilter()
	if err != nil {
		return f, err
	}
	if refused := dockerShmRefused(); len(refused) > 0 {
		f.Policy.Syscalls = append(f.Policy.Syscalls, seccomp.SyscallGroup{Action: seccomp.ActionErrno, Names: refused})
	}
	return f, nil
}

// shmPair starts b (transform with shared_memory, consumer) listening on a
// unix socket, and a (producer) sending to it, both with one key and
// --accel shm; bOpts run b.
func shmPair(t *testing.T, tr tree, aArgs []string, bOpts launchOpts) (a, b *rnode) {
	t.Helper()
	dir := shortDir(t)
	keys := writeKeys(t, dir, "keys", strings.Repeat("5a", 32))
	transform := transformFn
	transform.sharedMemory = true
	sock := filepath.Join(dir, "b.sock")
	bOpts.args = append(bOpts.args, "--accel", "shm")
	b = launch(t, tr, "b", nodeConfig{name: "b", listenUnix: sock, keys: keys, functions: []fn{transform, consumerFn}}.write(t, tr, dir), bOpts)
	a = launch(t, tr, "a", nodeConfig{
		name: "a", keys: keys, functions: []fn{producerFn},
		peers: []peer{{name: "b", address: "unix://" + sock, functions: []string{"transform", "consumer"}}},
	}.write(t, tr, dir), launchOpts{args: append([]string{"--accel", "shm"}, aArgs...)})
	return a, b
}

func TestShmPipeline(t *testing.T) {
	tr := build(t)
	a, b := shmPair(t, tr, []string{"--strict-accel"}, launchOpts{args: []string{"--strict-accel"}})
	sizes := []int{0, 1, 60 << 10, 64 << 10, 1 << 20, 64 << 20, 256 << 20}
	runPipeline(t, a, sizes, "unix", "memory")
	shm := 0
	for _, n := range sizes {
		// The producer sends a short header and the body: the 60 KiB
		// body stays under the 64 KiB threshold, the 64 KiB one not.
		if n >= 64<<10 {
			shm++
		}
	}
	ma, mb := a.metrics(t), b.metrics(t)
	if got := ma.get("rr_transfers_total", `mechanism="shm",path="unix",result="ok"`); got != float64(shm) {
		t.Errorf(`a: rr_transfers_total{mechanism="shm",path="unix",result="ok"} = %v, want %d; all: %v`, got, shm, ma.sum("rr_transfers_total"))
	}
	if got := mb.sum("rr_transfers_total", `mechanism="shm"`, `path="unix"`); got != float64(shm) {
		t.Errorf(`b: shm transfers received %v, want %d`, got, shm)
	}
	if got := ma.sum("rr_fallbacks_total") + mb.sum("rr_fallbacks_total"); got != 0 {
		t.Errorf("fallbacks counted: %v", got)
	}
	authClean(t, a, b)
}

// TestShmSeccomp: the receiving node may not make a memfd. With
// --strict-accel it refuses to start; without, it says so, its peers'
// payloads come over the stream, and the sender counts each.
func TestShmSeccomp(t *testing.T) {
	tr := build(t)
	bin, env := underSeccomp(t, tr)
	env = append(env, seccompFilterEnv+"=memfd")
	rows := probeFeatures(t, bin, env)
	if r := rows["shm"]; r.Available || !strings.Contains(r.Reason, "operation not permitted") {
		t.Errorf("probe under the filter: shm %+v; want unavailable, EPERM", r)
	}
	a, b := shmPair(t, tr, nil, launchOpts{binary: bin, env: env})
	b.log.waitLine(t, 0, 10*time.Second, "shm refused", "EPERM")
	sizes := []int{1, 1 << 20, 16 << 20}
	runPipeline(t, a, sizes, "unix", "memory")
	ma := a.metrics(t)
	if got := ma.get("rr_fallbacks_total", `accel="shm",reason="peer",to="plain"`); got != 2 {
		t.Errorf(`a: rr_fallbacks_total{accel="shm",reason="peer",to="plain"} = %v, want 2 (the two payloads over 64 KiB); all: %v`, got, ma.sum("rr_fallbacks_total"))
	}
	if got := ma.sum("rr_transfers_total", `mechanism="writev"`, `path="unix"`, `result="ok"`); got != float64(len(sizes)) {
		t.Errorf("a: %v transfers by writev, want %d", got, len(sizes))
	}
}

// TestShmDockerProfile: under what Docker's default seccomp profile
// decides for the shm path's system calls, the path works where it
// allows them, and falls back, counted, where it does not.
func TestShmDockerProfile(t *testing.T) {
	tr := build(t)
	bin, env := underSeccomp(t, tr)
	env = append(env, seccompFilterEnv+"=docker-shm")
	refused := dockerShmRefused()
	t.Logf("Docker's default profile refuses %v of %v", refused, shmSyscalls)
	a, b := shmPair(t, tr, nil, launchOpts{binary: bin, env: env})
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", b.PID()))
	if err != nil || !strings.Contains(string(status), "Seccomp:\t2") {
		t.Fatalf("node b runs without a seccomp filter (%v):\n%s", err, status)
	}
	sizes := []int{1 << 20, 16 << 20}
	runPipeline(t, a, sizes, "unix", "memory")
	ma := a.metrics(t)
	shm := ma.get("rr_transfers_total", `mechanism="shm",path="unix",result="ok"`)
	fell := ma.sum("rr_fallbacks_total", `accel="shm"`)
	if len(refused) == 0 && (shm != float64(len(sizes)) || fell != 0) {
		t.Errorf("nothing refused, yet %v shm transfers and %v fallbacks; want %d and 0", shm, fell, len(sizes))
	}
	if len(refused) > 0 && shm+fell != float64(len(sizes)) {
		t.Errorf("%v refused: %v shm transfers and %v fallbacks; want %d in all", refused, shm, fell, len(sizes))
	}
}
