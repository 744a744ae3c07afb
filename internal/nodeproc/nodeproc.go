package nodeproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options says which node to start and how. Binary and Config are required.
type Options struct {
	Binary string   // path of the rrnode executable
	Config string   // the --config file
	Args   []string // more arguments for `rrnode start`, after --config and --http
	Env    []string // added to the parent's environment

	// Output, if not nil, receives a copy of the node's standard output and
	// standard error as they are written. It must be safe for concurrent use.
	Output io.Writer

	// StartTimeout bounds the wait for GET /readyz = 200. Default 60s.
	StartTimeout time.Duration
	// StopTimeout bounds the wait for the node to exit after SIGTERM before
	// it is killed. Default 50s (the default drain_delay is 5s, drain_timeout
	// 30s, and the node gives late answers and its functions 5s each).
	StopTimeout time.Duration

	// NetNS, if not nil, is the network namespace the node runs in
	// (internal/netns.NS is one). Its HTTP address is then 127.0.0.1 inside
	// that namespace, reached through Node.Client.
	NetNS Namespace
}

// Namespace is a network namespace to run a node in. *netns.NS
// (internal/netns) implements it.
type Namespace interface {
	// Start starts cmd inside the namespace.
	Start(cmd *exec.Cmd) error
	// Listen and DialContext are net.Listen and net.Dialer.DialContext
	// with the socket created inside the namespace.
	Listen(network, address string) (net.Listener, error)
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Node is a running rrnode child process.
type Node struct {
	addr      string
	cmd       *exec.Cmd
	out       *tail
	stop      time.Duration
	transport http.RoundTripper // reaches addr: through the namespace if any
	dial      func(ctx context.Context, network, address string) (net.Conn, error)

	done    chan struct{} // closed when the process has exited
	waitErr error         // cmd.Wait's result, set before done is closed

	stopOnce sync.Once
	status   int
	stopErr  error
}

// Start starts a node and waits until it is healthy. ctx bounds the start
// only: the process runs until Stop.
func Start(ctx context.Context, opts *Options) (*Node, error) {
	if opts == nil || opts.Binary == "" || opts.Config == "" {
		return nil, errors.New("nodeproc: Options.Binary and Options.Config are required")
	}
	// The port is free when picked and may be taken before the node binds
	// it; a node that exits complaining about it is started again.
	var err error
	for range 3 {
		var n *Node
		n, err = start(ctx, opts)
		if err == nil {
			return n, nil
		}
		if !errors.Is(err, errAddrInUse) {
			return nil, err
		}
	}
	return nil, err
}

var errAddrInUse = errors.New("address already in use")

func start(ctx context.Context, opts *Options) (*Node, error) {
	addr, err := freeAddr(opts.NetNS)
	if err != nil {
		return nil, fmt.Errorf("nodeproc: pick a port: %w", err)
	}
	args := append([]string{"start", "--config", opts.Config, "--http", addr}, opts.Args...)
	cmd := exec.Command(opts.Binary, args...)
	cmd.Env = append(os.Environ(), opts.Env...)
	out := &tail{max: 64 << 10}
	var w io.Writer = out
	if opts.Output != nil {
		w = io.MultiWriter(out, opts.Output)
	}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.WaitDelay = 5 * time.Second // if a grandchild keeps the pipes open
	dieWithParent(cmd)

	n := &Node{addr: addr, cmd: cmd, out: out, stop: opts.StopTimeout, done: make(chan struct{}), transport: http.DefaultTransport}
	if n.stop <= 0 {
		n.stop = 50 * time.Second
	}
	n.dial = (&net.Dialer{}).DialContext
	if opts.NetNS != nil {
		n.dial = opts.NetNS.DialContext
		n.transport = &http.Transport{
			DialContext:         opts.NetNS.DialContext,
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     90 * time.Second,
		}
		err = opts.NetNS.Start(cmd)
	} else {
		err = cmd.Start()
	}
	if err != nil {
		if cmd.Process != nil { // started, then the namespace failed
			cmd.Process.Kill()
			cmd.Wait()
		}
		return nil, fmt.Errorf("nodeproc: %w", err)
	}
	go func() {
		n.waitErr = cmd.Wait()
		close(n.done)
	}()

	timeout := opts.StartTimeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	if err := n.waitHealthy(ctx, timeout); err != nil {
		n.kill()
		<-n.done
		if strings.Contains(out.String(), "address already in use") {
			err = fmt.Errorf("%w: %w", err, errAddrInUse)
		}
		return nil, err
	}
	return n, nil
}

// FreePort returns a tcp port free on every one of hosts (addresses of
// this network namespace) when asked: for nodes on several loopback
// addresses that share one port, as the nodes behind a cluster's DNS
// name do. A port can be taken before it is used: a caller whose node
// then fails with "address already in use" tries again.
func FreePort(hosts ...string) (int, error) {
	for range 20 {
		first, err := net.Listen("tcp", net.JoinHostPort(hosts[0], "0"))
		if err != nil {
			return 0, err
		}
		port := first.Addr().(*net.TCPAddr).Port
		lns := []net.Listener{first}
		for _, h := range hosts[1:] {
			ln, err := net.Listen("tcp", net.JoinHostPort(h, strconv.Itoa(port)))
			if err != nil {
				break
			}
			lns = append(lns, ln)
		}
		for _, ln := range lns {
			ln.Close()
		}
		if len(lns) == len(hosts) {
			return port, nil
		}
	}
	return 0, fmt.Errorf("nodeproc: no port free on all of %v", hosts)
}

// freeAddr picks a free port on 127.0.0.1, in ns if not nil.
func freeAddr(ns Namespace) (string, error) {
	listen := net.Listen
	if ns != nil {
		listen = ns.Listen
	}
	l, err := listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

func (n *Node) waitHealthy(parent context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	client := &http.Client{Transport: n.transport, Timeout: 2 * time.Second}
	url := n.URL() + "/readyz"
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last string
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("nodeproc: %w", err)
		}
		resp, err := client.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = "GET /readyz: " + resp.Status
		} else if ctx.Err() == nil || last == "" {
			last = err.Error()
		}
		select {
		case <-n.done:
			return fmt.Errorf("nodeproc: rrnode exited before it was healthy (%v); its output:\n%s", n.waitErr, n.out)
		case <-ctx.Done():
			if err := parent.Err(); err != nil {
				return fmt.Errorf("nodeproc: wait for rrnode: %w", err)
			}
			return fmt.Errorf("nodeproc: rrnode not healthy after %v (last: %s); its output:\n%s", timeout, last, n.out)
		case <-tick.C:
		}
	}
}

// Addr is the node's HTTP address, 127.0.0.1:PORT (in its namespace, if
// it has one).
func (n *Node) Addr() string { return n.addr }

// URL is the node's HTTP base URL, http://127.0.0.1:PORT (in its namespace,
// if it has one: use Client).
func (n *Node) URL() string { return "http://" + n.addr }

// Client returns an HTTP client that reaches URL: for a node in a network
// namespace, its connections are made inside that namespace; otherwise it
// uses http.DefaultTransport. It has no timeout: bound requests with their
// context.
func (n *Node) Client() *http.Client { return &http.Client{Transport: n.transport} }

// DialContext dials address from the node's network namespace (the
// caller's if it has none): for raw connections to the node's listeners,
// or an http.Transport of one's own.
func (n *Node) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return n.dial(ctx, network, address)
}

// PID is the node's process id.
func (n *Node) PID() int { return n.cmd.Process.Pid }

// Output returns the end (the last 64 KiB) of what the node has written to
// its standard output and standard error so far.
func (n *Node) Output() string { return n.out.String() }

// Done is closed when the node's process has exited, for whatever reason.
func (n *Node) Done() <-chan struct{} { return n.done }

// Stop sends SIGTERM and waits for the node to exit; after the stop timeout
// it sends SIGKILL. It returns the exit status (-1 if a signal ended the
// process) and a nil error only for a clean exit: status 0 after SIGTERM.
// Calling Stop again returns the first call's results.
func (n *Node) Stop() (status int, err error) {
	n.stopOnce.Do(func() { n.status, n.stopErr = n.doStop() })
	n.closeIdle()
	return n.status, n.stopErr
}

func (n *Node) doStop() (int, error) {
	select {
	case <-n.done:
		return n.exitStatus(), fmt.Errorf("nodeproc: rrnode had exited before Stop (%v); its output:\n%s", n.waitErr, n.out)
	default:
	}
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		n.kill()
		<-n.done
		return n.exitStatus(), fmt.Errorf("nodeproc: send SIGTERM: %w", err)
	}
	timer := time.NewTimer(n.stop)
	defer timer.Stop()
	select {
	case <-n.done:
	case <-timer.C:
		n.kill()
		<-n.done
		return n.exitStatus(), fmt.Errorf("nodeproc: rrnode still running %v after SIGTERM, killed; its output:\n%s", n.stop, n.out)
	}
	if st := n.exitStatus(); st != 0 {
		return st, fmt.Errorf("nodeproc: rrnode exited with status %d after SIGTERM (%v); its output:\n%s", st, n.waitErr, n.out)
	}
	return 0, nil
}

// Kill sends SIGKILL at once and waits for the process to exit, for tests
// of a node that dies. It counts as the node's stop: Stop afterwards
// returns status -1 and a nil error. It returns an error if the node had
// exited before Kill; after Stop it does nothing.
func (n *Node) Kill() error {
	var err error
	n.stopOnce.Do(func() {
		select {
		case <-n.done:
			err = fmt.Errorf("nodeproc: rrnode had exited before Kill (%v); its output:\n%s", n.waitErr, n.out)
			n.stopErr = err
		default:
			n.kill()
			<-n.done
		}
		n.status = n.exitStatus()
	})
	n.closeIdle()
	return err
}

// closeIdle closes the idle connections of the node's own transport.
func (n *Node) closeIdle() {
	if t, ok := n.transport.(*http.Transport); ok && t != http.DefaultTransport {
		t.CloseIdleConnections()
	}
}

// kill sends SIGKILL; the process may be gone already.
func (n *Node) kill() { _ = n.cmd.Process.Kill() }

// exitStatus is the exit code, -1 for death by a signal. Call it after done.
func (n *Node) exitStatus() int {
	if n.cmd.ProcessState == nil {
		return -1
	}
	return n.cmd.ProcessState.ExitCode()
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu      sync.Mutex
	max     int
	buf     []byte
	dropped int64
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.dropped += int64(over)
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var b bytes.Buffer
	if t.dropped > 0 {
		b.WriteString("[… " + strconv.FormatInt(t.dropped, 10) + " bytes before this]\n")
	}
	b.Write(t.buf)
	return b.String()
}
