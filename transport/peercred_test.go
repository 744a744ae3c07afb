//go:build linux

package transport_test

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/roadrunner-wasm/roadrunner/internal/privileged"
	"github.com/roadrunner-wasm/roadrunner/transport"
)

// peerCredDialEnv makes this test binary, run as a child, send one DATA
// frame to the address it names and exit: 0 if the frame was ACKed, 1
// with the error on stderr if not.
const peerCredDialEnv = "RR_TEST_PEERCRED_DIAL"

// nobody is the uid and gid the child runs as.
const nobody = 65534

// init, not TestMain: the child must not run the tests.
func init() {
	if addr := os.Getenv(peerCredDialEnv); addr != "" {
		os.Exit(peerCredDial(addr))
	}
}

func peerCredDial(addr string) int {
	p, err := transport.NewPeer(addr, nil)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err = p.Send(ctx, "fn", []byte("from nobody"), nil)
		cancel()
		p.Close()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "send: %v\n", err)
		return 1
	}
	return 0
}

// refusals records a Server's refusals whole.
type refusals struct {
	mu  sync.Mutex
	all []transport.Refusal
}

func (r *refusals) add(x transport.Refusal) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all = append(r.all, x)
}

func (r *refusals) take() []transport.Refusal {
	r.mu.Lock()
	defer r.mu.Unlock()
	all := r.all
	r.all = nil
	return all
}

// credServer serves sk on a unix socket of mode 0666 in dir, with allow.
func credServer(t *testing.T, dir string, sk transport.Sink, allow *transport.UnixAllow) (addr string, refused *refusals) {
	t.Helper()
	refused = &refusals{}
	sock := filepath.Join(dir, "rr.sock")
	ln, err := transport.ListenUnix(sock, 0o666, -1)
	if err != nil {
		t.Fatal(err)
	}
	srv := transport.NewServer(sk, transport.PathUnix, &transport.ServerOptions{
		Status:    status,
		UnixAllow: allow,
		OnRefused: refused.add,
	})
	serve(t, srv, ln)
	return "unix://" + sock, refused
}

// sendAsNobody runs this test binary, copied to bin, as uid and gid 65534
// with no supplementary groups, to send one frame to addr. It returns the
// child's pid and its error (nil if the frame was ACKed).
func sendAsNobody(t *testing.T, bin, addr string) (int, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = []string{peerCredDialEnv + "=" + addr}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the child as uid %d: %v", nobody, err)
	}
	err := cmd.Wait()
	if ctx.Err() != nil {
		t.Fatalf("the child as uid %d did not finish: %s", nobody, stderr.String())
	}
	if err != nil {
		return cmd.Process.Pid, fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return cmd.Process.Pid, nil
}

// credDir returns a directory where a socket and a copy of this test
// binary are reachable by uid 65534: the test's temporary directories
// (and the go command's, which hold the binary) are 0700.
func credDir(t *testing.T) (dir, bin string) {
	t.Helper()
	dir = t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} { // both the test's own
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for d := filepath.Dir(filepath.Dir(dir)); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			privileged.Skip(t, fmt.Sprintf("%s (mode %v) is not traversable by uid %d: set TMPDIR to a directory it can reach", d, fi.Mode().Perm(), nobody))
		}
		if d == filepath.Dir(d) {
			break
		}
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin = filepath.Join(dir, "child.test")
	if err := copyFile(bin, exe, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, bin
}

func copyFile(dst, src string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// TestUnixAllow connects to a unix Server with UnixAllow from a child
// process running as uid and gid 65534 and from this one (root): each is
// admitted, and its payload delivered, only when UnixAllow lists its uid
// or gid; a refused one is closed before anything is read and reported
// with the credentials the kernel recorded.
func TestUnixAllow(t *testing.T) {
	privileged.RequireRoot(t)
	dir, bin := credDir(t)

	t.Run("uid 0 only", func(t *testing.T) {
		sd := filepath.Join(dir, "uid")
		if err := os.Mkdir(sd, 0o755); err != nil {
			t.Fatal(err)
		}
		sk := &sink{}
		addr, refused := credServer(t, sd, sk, &transport.UnixAllow{UIDs: []uint32{0}})

		pid, err := sendAsNobody(t, bin, addr)
		if err == nil {
			t.Fatalf("uid %d sent a frame to a server that allows uid 0 only", nobody)
		}
		t.Logf("the child's send failed as it should: %v", err)
		if n := sk.fills.Load(); n != 0 {
			t.Errorf("the sink was asked to fill %d payloads from a refused peer", n)
		}
		rs := refused.take()
		if len(rs) == 0 {
			t.Fatal("no refusal reported")
		}
		want := fmt.Sprintf("uid %d gid %d pid %d not in unix_allow", nobody, nobody, pid)
		for _, r := range rs {
			if r.Path != transport.PathUnix || r.Reason != transport.RefusedAuth || r.Auth != transport.AuthPeerCred || r.At != "accept" ||
				r.Err == nil || r.Err.Error() != want {
				t.Errorf("refusal %+v: want path unix, reason %q, auth %q, at accept, error %q", r, transport.RefusedAuth, transport.AuthPeerCred, want)
			}
		}

		// Root is allowed on the same server.
		p := newPeer(t, addr, nil)
		if _, err := p.Send(context.Background(), "fn", []byte("from root"), nil); err != nil {
			t.Fatalf("uid 0: %v", err)
		}
		if n := sk.delivered.Load(); n != 1 {
			t.Errorf("%d deliveries, want root's one", n)
		}
		if rs := refused.take(); len(rs) != 0 {
			t.Errorf("refusals after root's send: %+v", rs)
		}
	})

	t.Run("gid 65534 only", func(t *testing.T) {
		sd := filepath.Join(dir, "gid")
		if err := os.Mkdir(sd, 0o755); err != nil {
			t.Fatal(err)
		}
		sk := &sink{}
		addr, refused := credServer(t, sd, sk, &transport.UnixAllow{GIDs: []uint32{nobody}})

		if _, err := sendAsNobody(t, bin, addr); err != nil {
			t.Fatalf("gid %d refused by a server that allows it: %v", nobody, err)
		}
		if n := sk.delivered.Load(); n != 1 {
			t.Errorf("%d deliveries, want the child's one", n)
		}
		sk.mu.Lock()
		last := string(sk.last)
		sk.mu.Unlock()
		if last != "from nobody" {
			t.Errorf("delivered %q, want the child's payload", last)
		}
		if rs := refused.take(); len(rs) != 0 {
			t.Errorf("refusals: %+v", rs)
		}

		// Root's gid 0 is not listed.
		p := newPeer(t, addr, nil)
		if _, err := p.Send(context.Background(), "fn", []byte("from root"), nil); err == nil {
			t.Fatal("uid 0 gid 0 sent a frame to a server that allows gid 65534 only")
		}
		if n := sk.delivered.Load(); n != 1 {
			t.Errorf("%d deliveries after root's send, want the child's one", n)
		}
		rs := refused.take()
		if len(rs) == 0 {
			t.Fatal("root's connection: no refusal reported")
		}
		want := fmt.Sprintf("uid 0 gid 0 pid %d not in unix_allow", os.Getpid())
		for _, r := range rs {
			if r.Reason != transport.RefusedAuth || r.Auth != transport.AuthPeerCred || r.Err == nil || r.Err.Error() != want {
				t.Errorf("refusal %+v: want reason %q, auth %q, error %q", r, transport.RefusedAuth, transport.AuthPeerCred, want)
			}
		}
	})
}

// TestUnixAllowIgnoredOnTCP: a tcp connection is not checked against
// UnixAllow (SO_PEERCRED would report uid 4294967295 for it).
func TestUnixAllowIgnoredOnTCP(t *testing.T) {
	sk := &sink{}
	s := startServer(t, transport.PathTCP, sk, &transport.ServerOptions{UnixAllow: &transport.UnixAllow{UIDs: []uint32{12345}}})
	p := newPeer(t, s.addr, nil)
	if _, err := p.Send(context.Background(), "fn", []byte("over tcp"), nil); err != nil {
		t.Fatal(err)
	}
	if n := s.refusals(transport.RefusedAuth); n != 0 {
		t.Errorf("%d auth refusals on tcp", n)
	}
}

// TestUnixAllowOpen: a UnixAllow with both lists empty admits the
// Server's own uid without a word.
func TestUnixAllowOpen(t *testing.T) {
	sk := &sink{}
	s := startServer(t, transport.PathUnix, sk, &transport.ServerOptions{UnixAllow: &transport.UnixAllow{}})
	p := newPeer(t, s.addr, nil)
	if _, err := p.Send(context.Background(), "fn", []byte("anyone"), nil); err != nil {
		t.Fatal(err)
	}
	if n := s.refusals(transport.RefusedAuth); n != 0 {
		t.Errorf("%d auth refusals", n)
	}
}
