//go:build linux

package features

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// requireFeature fails the test unless err is nil, or skips it when err
// says the environment refuses the feature (wraps ErrNotSupported) and
// RR_REQUIRE_PRIVILEGED is not 1. An error that does not wrap
// ErrNotSupported means the probe itself failed: always a failure.
func requireFeature(t *testing.T, name string, err error) {
	t.Helper()
	switch {
	case err == nil:
	case !errors.Is(err, ErrNotSupported):
		t.Fatalf("%s: inconclusive probe: %v", name, err)
	case os.Getenv("RR_REQUIRE_PRIVILEGED") == "1":
		t.Fatalf("%s: %v (RR_REQUIRE_PRIVILEGED=1)", name, err)
	default:
		t.Skipf("%s: %v", name, err)
	}
}

func TestProbeFeatures(t *testing.T) {
	for _, tc := range []struct {
		name  string
		probe func() error
		// env: the feature may be refused by the environment (seccomp,
		// gVisor, a network namespace without loopback), so its absence
		// skips unless RR_REQUIRE_PRIVILEGED=1.
		env bool
	}{
		{"unix", HaveUnix, false},
		{"tcp", HaveTCP, true},
		{"splice", HaveSplice, true},
		{"vmsplice", HaveVmsplice, true},
		{"pipe_max_size", func() error { _, err := PipeMaxSize(); return err }, true},
		{"io_uring", HaveIOURing, true},
		{"io_uring.send_zc", HaveSendZC, true},
		{"sockmap", HaveSockmap, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.probe()
			if again := tc.probe(); again != err {
				t.Errorf("second call answered %v, first %v: not cached", again, err)
			}
			if !tc.env && err != nil {
				t.Fatal(err)
			}
			requireFeature(t, tc.name, err)
		})
	}
}

// TestKTLS: the tls row says what the kernel's list of TCP upper-layer
// protocols says.
func TestKTLS(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_available_ulp")
	if err != nil {
		t.Skip(err)
	}
	has := slices.Contains(strings.Fields(string(b)), "tls")
	kerr := HaveKTLS()
	if has != (kerr == nil) {
		t.Fatalf("tcp_available_ulp %q, HaveKTLS %v", b, kerr)
	}
	if kerr != nil && (!errors.Is(kerr, ErrNotSupported) || !strings.Contains(kerr.Error(), "tcp_available_ulp")) {
		t.Errorf("HaveKTLS: %v; want ErrNotSupported naming tcp_available_ulp", kerr)
	}
}

func TestProbeRows(t *testing.T) {
	rows := Probe()
	want := []string{"memory", "unix", "tcp", "splice", "vmsplice", "pipe_max_size", "io_uring", "io_uring.send_zc", "sockmap", "tls", "shm"}
	if len(rows) != len(want) {
		t.Fatalf("%d rows %+v, want %v", len(rows), rows, want)
	}
	for i, r := range rows {
		if r.Name != want[i] {
			t.Errorf("row %d is %q, want %q", i, r.Name, want[i])
		}
		if r.Available != (r.Reason == "") {
			t.Errorf("row %+v: a reason must be given exactly when unavailable", r)
		}
	}
	if !rows[0].Available {
		t.Errorf("memory unavailable: %+v", rows[0])
	}
	for _, r := range rows[1:] {
		if !r.Available && r.Name != "tls" { // kernel TLS is reported, not required
			err := fmt.Errorf("%s: %s: %w", r.Name, r.Reason, ErrNotSupported)
			requireFeature(t, r.Name, err)
		}
	}
	for _, i := range []int{3, 4} { // splice, vmsplice
		if rows[i].Detail != "Linux >= 2.6.17" {
			t.Errorf("%s detail %q, want the kernel version that introduced it", rows[i].Name, rows[i].Detail)
		}
	}
	b, err := os.ReadFile("/proc/sys/fs/pipe-max-size")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rows[5].Detail, strings.TrimSpace(string(b)); got != want {
		t.Errorf("pipe_max_size detail %q, want %q from /proc/sys/fs/pipe-max-size", got, want)
	}
	n, _ := PipeMaxSize()
	if rows[5].Detail != strconv.Itoa(n) {
		t.Errorf("pipe_max_size detail %q, PipeMaxSize %d", rows[5].Detail, n)
	}
}

func TestProbeKernelVersion(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := KernelVersion(), strings.TrimSpace(string(b)); got != want {
		t.Errorf("KernelVersion() = %q, want %q", got, want)
	}
}

// TestProbePipeSize checks that a pipe really takes PipeMaxSize bytes.
func TestProbePipeSize(t *testing.T) {
	n, err := PipeMaxSize()
	requireFeature(t, "pipe_max_size", err)
	r, w, err := probePipe()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(r)
	defer unix.Close(w)
	got, err := unix.FcntlInt(uintptr(w), unix.F_SETPIPE_SZ, n)
	if err != nil || got < n {
		t.Fatalf("F_SETPIPE_SZ %d: got %d, %v", n, got, err)
	}
}

func TestProbeFallbackReason(t *testing.T) {
	for _, tc := range []struct {
		err     error
		reason  string
		refusal bool
	}{
		{unix.EPERM, "EPERM", true},
		{fmt.Errorf("splice: %w", unix.EINVAL), "EINVAL", true},
		{os.NewSyscallError("vmsplice", unix.ENOSYS), "ENOSYS", true},
		{fmt.Errorf("send: %w", os.NewSyscallError("splice", unix.EOPNOTSUPP)), "EOPNOTSUPP", true},
		{unix.ENOTSUP, "EOPNOTSUPP", true}, // the same errno on Linux
		{&UnsupportedFeatureError{Name: "splice", MinimumVersion: "2.6.17", Err: opErrno("splice", unix.EPERM)}, "EPERM", true},
		{errors.Join(errors.New("first"), fmt.Errorf("second: %w", unix.ENOSYS)), "ENOSYS", true},
		{unix.EPIPE, "other", false},
		{fmt.Errorf("write: %w", unix.EAGAIN), "other", false},
		{errors.New("splice: broken"), "other", false},
		{ErrNotSupported, "other", false},
		{nil, "other", false},
	} {
		if got := Reason(tc.err); got != tc.reason {
			t.Errorf("Reason(%v) = %q, want %q", tc.err, got, tc.reason)
		}
		if got := IsRefusal(tc.err); got != tc.refusal {
			t.Errorf("IsRefusal(%v) = %v, want %v", tc.err, got, tc.refusal)
		}
	}
}

func TestProbeUnsupportedFeatureError(t *testing.T) {
	err := error(&UnsupportedFeatureError{Name: "vmsplice", MinimumVersion: "2.6.17", Err: opErrno("vmsplice", unix.EPERM)})
	if want := "vmsplice not supported (requires Linux >= 2.6.17): vmsplice: operation not permitted (EPERM)"; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
	if !errors.Is(err, ErrNotSupported) || !errors.Is(err, unix.EPERM) || errors.Is(err, unix.EINVAL) {
		t.Errorf("%v: errors.Is must find ErrNotSupported and EPERM only", err)
	}
	if got := probeReason(err); got != "vmsplice: operation not permitted (EPERM)" {
		t.Errorf("reason %q", got)
	}
	if got := opErrno("splice", unix.ENOTSUP).Error(); got != "splice: operation not supported (EOPNOTSUPP)" {
		t.Errorf("opErrno: %q", got)
	}
}

// TestProbeCache checks that conclusive answers are cached with the
// feature's name and version, and transient failures are retried.
func TestProbeCache(t *testing.T) {
	calls := 0
	answers := []error{opErrno("socket", unix.EMFILE), opErrno("splice", unix.ENOSYS), nil}
	ft := newFeatureTest("splice", "2.6.17", func() error {
		err := answers[calls]
		calls++
		return err
	})
	err := ft.result()
	if errors.Is(err, ErrNotSupported) || !errors.Is(err, unix.EMFILE) {
		t.Fatalf("transient failure: %v, want an inconclusive error wrapping EMFILE", err)
	}
	err = ft.result()
	var ufe *UnsupportedFeatureError
	if !errors.As(err, &ufe) || ufe.Name != "splice" || ufe.MinimumVersion != "2.6.17" || !errors.Is(err, unix.ENOSYS) {
		t.Fatalf("refusal: %v, want an UnsupportedFeatureError wrapping ENOSYS", err)
	}
	if again := ft.result(); again != err || calls != 2 {
		t.Fatalf("after a refusal: %v after %d calls, want the cached %v after 2", again, calls, err)
	}
	if detail, err := ft.probe(); detail != "Linux >= 2.6.17" || err == nil {
		t.Errorf("probe() = %q, %v", detail, err)
	}
}

// TestProbeNoLeak runs each probe for real (bypassing the cache) many times
// and checks that no file descriptor stays open.
func TestProbeNoLeak(t *testing.T) {
	before := openFDs(t)
	for range 50 {
		for _, fn := range []func() error{probeUnix, probeTCP, probeSplice, probeVmsplice, probeSetPipeSize} {
			fn() // refusals are TestProbeFeatures's business; leaks are this test's
		}
	}
	if after := openFDs(t); after != before {
		t.Errorf("%d file descriptors open before the probes, %d after", before, after)
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}
