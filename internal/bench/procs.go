package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// tail keeps the last max bytes written to it, for error messages.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
	w   io.Writer // a copy of everything, if not nil
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.w != nil {
		t.w.Write(p)
	}
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// agent is a running rrnode bench-agent process.
type agent struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
	errs  *tail
	done  chan struct{}

	mu      sync.Mutex
	nextID  int
	waiting map[int]chan agentResponse
	readErr error
}

// startAgent runs rrnode bench-agent role args. A receiver's first line
// (its address) is returned as addr.
func startAgent(ctx context.Context, o *Options, role string, args ...string) (a *agent, addr string, err error) {
	cmdArgs := append([]string{"bench-agent", "--engine", o.Engine, role}, args...)
	cmd := exec.Command(o.Rrnode, cmdArgs...)
	errs := &tail{max: 16 << 10, w: o.NodeLog}
	cmd.Stderr = errs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, "", err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("start %s bench-agent %s: %w", o.Rrnode, role, err)
	}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	a = &agent{cmd: cmd, stdin: stdin, out: sc, errs: errs, done: make(chan struct{}), waiting: map[int]chan agentResponse{}}
	if role != "sender" {
		line := make(chan []byte, 1)
		go func() {
			if sc.Scan() {
				line <- sc.Bytes()
			}
			close(line)
		}()
		select {
		case l, ok := <-line:
			var m struct{ Addr string }
			if ok {
				err = json.Unmarshal(l, &m)
			}
			if !ok || err != nil || m.Addr == "" {
				a.stop()
				return nil, "", fmt.Errorf("bench-agent %s did not say its address (%v): %s", role, err, errs)
			}
			addr = m.Addr
		case <-time.After(30 * time.Second):
			a.stop()
			return nil, "", fmt.Errorf("bench-agent %s did not say its address in 30s: %s", role, errs)
		case <-ctx.Done():
			a.stop()
			return nil, "", ctx.Err()
		}
	}
	go a.read()
	return a, addr, nil
}

func (a *agent) pid() int { return a.cmd.Process.Pid }

// read dispatches the agent's answers to their requests.
func (a *agent) read() {
	for a.out.Scan() {
		var r agentResponse
		if err := json.Unmarshal(a.out.Bytes(), &r); err != nil {
			continue // not an answer (a receiver says nothing after its address)
		}
		a.mu.Lock()
		ch := a.waiting[r.ID]
		delete(a.waiting, r.ID)
		a.mu.Unlock()
		if ch != nil {
			ch <- r
		}
	}
	a.mu.Lock()
	a.readErr = errors.New("bench-agent exited")
	for id, ch := range a.waiting {
		close(ch)
		delete(a.waiting, id)
	}
	a.mu.Unlock()
	close(a.done)
}

// call sends req and waits for its answer.
func (a *agent) call(ctx context.Context, req agentRequest) (agentResponse, error) {
	ch := make(chan agentResponse, 1)
	a.mu.Lock()
	if a.readErr != nil {
		a.mu.Unlock()
		return agentResponse{}, fmt.Errorf("%w: %s", a.readErr, a.errs)
	}
	a.nextID++
	req.ID = a.nextID
	a.waiting[req.ID] = ch
	line, _ := json.Marshal(req)
	_, err := a.stdin.Write(append(line, '\n'))
	a.mu.Unlock()
	if err != nil {
		return agentResponse{}, fmt.Errorf("bench-agent: %w: %s", err, a.errs)
	}
	select {
	case r, ok := <-ch:
		if !ok {
			return r, fmt.Errorf("bench-agent exited: %s", a.errs)
		}
		if r.Error != "" {
			return r, errors.New(r.Error)
		}
		return r, nil
	case <-ctx.Done():
		return agentResponse{}, ctx.Err()
	}
}

// stop closes the agent's input, which ends it, and waits; it kills an
// agent that does not end within 10 s.
func (a *agent) stop() error {
	a.stdin.Close()
	exited := make(chan error, 1)
	go func() { exited <- a.cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			return fmt.Errorf("bench-agent: %w: %s", err, a.errs)
		}
		return nil
	case <-time.After(10 * time.Second):
		a.cmd.Process.Kill()
		<-exited
		return fmt.Errorf("bench-agent did not end within 10s of its input closing; killed")
	}
}
