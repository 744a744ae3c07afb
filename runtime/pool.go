package runtime

import (
	"context"
	"errors"
	"fmt"
	goruntime "runtime"
	"sync"
	"sync/atomic"
)

// NewInstanceFunc creates an instance for a pool.
type NewInstanceFunc func(ctx context.Context) (Instance, error)

// NewPool returns the Function for spec over instances made by newInstance:
// it takes spec's Name, PoolSize and RecycleAbove. It creates one instance
// at once, so that a module that cannot start fails here, and the others on
// demand, up to spec.PoolSize (GOMAXPROCS if it is <= 0). onClose, if not
// nil, runs once when the pool is closed.
func NewPool(ctx context.Context, spec FunctionSpec, newInstance NewInstanceFunc, onClose func(context.Context) error) (*Pool, error) {
	size := spec.PoolSize
	if size <= 0 {
		size = goruntime.GOMAXPROCS(0)
	}
	p := &Pool{
		name:         spec.Name,
		size:         size,
		recycleAbove: spec.RecycleAbove,
		newInst:      newInstance,
		onClose:      onClose,
		sem:          make(chan struct{}, size),
	}
	first, err := newInstance(ctx)
	if err != nil {
		return nil, fmt.Errorf("function %s: instantiate: %w", spec.Name, err)
	}
	p.idle = append(p.idle, first)
	p.live.Store(1)
	return p, nil
}

// Pool is the Function every engine shares: a bounded set of instances of one
// module, each used by one goroutine at a time.
type Pool struct {
	name         string
	size         int
	recycleAbove uint64 // bytes; 0: never recycle
	newInst      NewInstanceFunc
	onClose      func(context.Context) error

	sem chan struct{} // one token per busy instance

	mu     sync.Mutex
	idle   []Instance
	closed bool

	closing   atomic.Bool // set with closed: lets acquire fail without waiting
	live      atomic.Int64
	replaced  atomic.Uint64
	recycled  atomic.Uint64
	delivered atomic.Uint64
}

type noWaitKey struct{}

// WithoutWaiting returns a context under which Deliver fails at once with
// CodeBusy when no instance is idle, instead of waiting. A caller uses it
// where waiting could deadlock: a payload sent to a function that is already
// on the sending call chain.
func WithoutWaiting(ctx context.Context) context.Context {
	return context.WithValue(ctx, noWaitKey{}, true)
}

// Name implements Function.
func (p *Pool) Name() string { return p.name }

// Stats implements Function.
func (p *Pool) Stats() PoolStats {
	p.mu.Lock()
	idle := len(p.idle)
	p.mu.Unlock()
	return PoolStats{
		Size:      p.size,
		Live:      int(p.live.Load()),
		Idle:      idle,
		Replaced:  p.replaced.Load(),
		Recycled:  p.recycled.Load(),
		Delivered: p.delivered.Load(),
	}
}

var (
	errClosed = fmt.Errorf("function closed: %w", CodeCanceled)
	errBusy   = fmt.Errorf("no idle instance: %w", CodeBusy)
)

func (p *Pool) acquire(ctx context.Context) (Instance, error) {
	if p.closing.Load() {
		return nil, errClosed
	}
	select {
	case p.sem <- struct{}{}:
	default:
		if ctx.Value(noWaitKey{}) != nil {
			return nil, errBusy
		}
		select {
		case p.sem <- struct{}{}:
		case <-ctx.Done():
			return nil, &DeliverError{Function: p.name, Op: "wait for an instance", Code: CodeCanceled, Err: ctx.Err()}
		}
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.sem
		return nil, errClosed
	}
	if n := len(p.idle); n > 0 {
		inst := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return inst, nil
	}
	p.mu.Unlock()
	inst, err := p.newInst(ctx)
	if err != nil {
		<-p.sem
		return nil, &DeliverError{Function: p.name, Op: "instantiate", Code: CodeInternal, Err: err}
	}
	p.live.Add(1)
	return inst, nil
}

// release gives inst back after a delivery, whatever its outcome. It
// closes inst instead of keeping it if it is broken (it trapped), if the
// pool is closed, or if its memory grew above recycleAbove: wasm memory
// never shrinks, and an idle instance would hold that memory until the
// function is closed. Its successor is instantiated by the next delivery
// that finds no idle instance.
func (p *Pool) release(ctx context.Context, inst Instance, broken bool) {
	discard := broken
	if broken {
		p.replaced.Add(1)
	} else if p.recycleAbove > 0 && !p.closing.Load() && inst.MemorySize() > p.recycleAbove {
		p.recycled.Add(1)
		discard = true
	}
	p.mu.Lock()
	if discard || p.closed {
		p.mu.Unlock()
		p.live.Add(-1)
		_ = inst.Close(context.WithoutCancel(ctx))
	} else {
		p.idle = append(p.idle, inst)
		p.mu.Unlock()
	}
	<-p.sem
}

// Deliver implements Function.
func (p *Pool) Deliver(ctx context.Context, n uint32, fill func(dst []byte) error) (err error) {
	inst, err := p.acquire(ctx)
	if err != nil {
		return err
	}
	broken := false
	defer func() { p.release(ctx, inst, broken) }()

	var ptr uint32
	if n > 0 {
		ptr, err = inst.Alloc(ctx, n)
		if err != nil {
			broken = true
			return p.trapped(ctx, ExportAlloc, err)
		}
		if ptr == 0 {
			return &DeliverError{Function: p.name, Op: ExportAlloc, Code: CodeAllocFailed, Err: errAllocZero}
		}
		view, ok := inst.View(ptr, n)
		if !ok {
			return &DeliverError{Function: p.name, Op: ExportAlloc, Code: CodeAllocFailed, Ptr: ptr, Len: n, Err: errAllocRange}
		}
		if err := fill(view); err != nil {
			return err
		}
	}
	res, err := inst.Handle(ctx, ptr, n)
	if err != nil {
		broken = true
		return p.trapped(ctx, ExportHandle, err)
	}
	p.delivered.Add(1)
	if res != 0 {
		return &DeliverError{Function: p.name, Op: ExportHandle, Code: CodeReceiverFailed, Result: res}
	}
	return nil
}

var (
	errAllocZero  = errors.New("returned 0 (cannot allocate)")
	errAllocRange = errors.New("returned a buffer outside guest memory")
)

func (p *Pool) trapped(ctx context.Context, op string, err error) error {
	code := CodeReceiverTrapped
	if ctx.Err() != nil {
		code = CodeCanceled
	}
	return &DeliverError{Function: p.name, Op: op, Code: code, Err: err}
}

// Close implements Function. It refuses new deliveries at once, waits until
// the deliveries in progress have returned (or ctx ends: the engine's
// resources are then released under them, and they fail), and closes every
// instance.
func (p *Pool) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.closing.Store(true)
	p.mu.Unlock()
	var errs []error
	// Holding every token means no instance is busy: releases after closed
	// is set close their instance instead of keeping it.
	held := 0
	for held < p.size {
		select {
		case p.sem <- struct{}{}:
			held++
			continue
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("function %s: closed with deliveries in progress: %w", p.name, ctx.Err()))
		}
		break
	}
	// Give the tokens back: a Deliver that raced with Close takes one and
	// finds the pool closed.
	for range held {
		<-p.sem
	}
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, inst := range idle {
		p.live.Add(-1)
		errs = append(errs, inst.Close(ctx))
	}
	if p.onClose != nil {
		errs = append(errs, p.onClose(ctx))
	}
	return errors.Join(errs...)
}

// DeliverError is a failed delivery to a function. It carries the ABI code
// the sender's guest receives.
type DeliverError struct {
	Function string // the receiving function
	Op       string // what failed: rr_alloc, rr_handle, "instantiate", …
	Code     Code
	Result   int32  // rr_handle's non-zero result, for CodeReceiverFailed
	Ptr, Len uint32 // the out-of-range buffer, for CodeAllocFailed
	Err      error  // the cause, if any (a trap's error, a context error)
}

func (e *DeliverError) Error() string {
	switch {
	case e.Code == CodeReceiverFailed:
		return fmt.Sprintf("function %s: %s returned %d", e.Function, e.Op, e.Result)
	case e.Code == CodeAllocFailed && e.Err == errAllocRange:
		return fmt.Sprintf("function %s: %s returned [%#x, +%d) outside guest memory", e.Function, e.Op, e.Ptr, e.Len)
	case e.Err != nil:
		return fmt.Sprintf("function %s: %s: %s: %v", e.Function, e.Op, e.Code, e.Err)
	default:
		return fmt.Sprintf("function %s: %s: %s", e.Function, e.Op, e.Code)
	}
}

// Unwrap returns the cause.
func (e *DeliverError) Unwrap() error { return e.Err }

// Is reports whether target is e's code, so that errors.Is(err, CodeTooLarge)
// works on a DeliverError.
func (e *DeliverError) Is(target error) bool {
	c, ok := target.(Code)
	return ok && c == e.Code
}

// ABICode returns e.Code, for CodeOf.
func (e *DeliverError) ABICode() Code { return e.Code }
