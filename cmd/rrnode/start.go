package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/roadrunner-wasm/roadrunner/node"
	"github.com/roadrunner-wasm/roadrunner/runtime"
	"github.com/roadrunner-wasm/roadrunner/transport"
)

type startFlags struct {
	config      string
	http        string
	accel       transport.Accels
	strictAccel bool
	logFormat   string
	logLevel    string
	engine      string
	verify      bool
	tcpSend     transport.Mechanism
	tcpSendSet  bool // --tcp-send was given: it overrides node.tcp_send
	listenUnix  string
	listenTCP   string
	watchConfig bool
}

func newStartCmd(std stdio) *cobra.Command {
	var f startFlags
	c := &cobra.Command{
		Use:   "start --config FILE",
		Short: "Run a node: load its functions and serve the HTTP ingress",
		Long: `Run a node: load the functions of the config file, serve the HTTP ingress
(POST /v1/functions/{name}), /healthz, /readyz and /metrics, until SIGINT or
SIGTERM. The ingress listens as soon as the config is read: while the modules
compile (each logged with its load time) /healthz answers 200, /readyz 503
"starting" and invocations 503 with Retry-After; /readyz turns 200 once the
functions are loaded and every listener is served. Then terminate the Kubernetes way: /readyz answers 503 at once while
everything is still served for node.drain_delay (default 5s, 0 for none), so
that endpoints stop routing here; then drain: stop accepting, let the
invocations in flight finish (up to node.drain_timeout; callers still waiting
then get 503 with Retry-After), close the functions and exit 0. /healthz
answers 200 throughout. A second signal ends
the process at once. SIGINT or SIGTERM before the node has started (during
module compilation, say) stops the start where it is, undoes what it did
(listeners and the unix socket, sockmap pins, functions, engine), logs
"stopped while starting" with the stage and exits 0.

Reload: on SIGHUP, and when the config file's content changes (its
directory is watched, so an editor's rename, cp and a Kubernetes ConfigMap
update all count; --watch-config=false leaves SIGHUP only), the node reads
the config again, with the same flags over it, and applies the difference:
new functions load and take invocations, removed ones finish those in
flight and close, changed ones are replaced the same way; peers follow. A
change to node.* (listeners, http, auth, tls...) is logged as needing a
restart. An invalid config changes nothing: its error is logged and counted
in rr_config_reloads_total. A SIGHUP before the node serves, or while it
drains, is logged and ignored.

Accelerators: --accel iouring submits the unix and tcp paths' sends and
receives through io_uring (zero-copy sends for large tcp payloads, turned off
per connection where the kernel copies them anyway). Where the system refuses
io_uring (a container's default seccomp profile, kernel.io_uring_disabled) the
node starts on plain syscalls with a warning, shows it in rr_accel and counts
every transfer in rr_fallbacks_total; --strict-accel makes it a start-up
error naming the reason. --accel sockmap puts the sockets of tcp connections
between nodes of this host (each in its own network namespace, say) in the
host's eBPF sockmap, pinned under node.sockmap_pin_dir and shared by the
host's nodes: each message goes straight to the peer socket, skipping both
TCP stacks and the veth between them. It needs CAP_BPF and CAP_NET_ADMIN
(and CAP_SYS_ADMIN to mount bpffs where it is not); refused, it falls back
the same way. --accel shm moves payloads of 64 KiB or more to functions
with shared_memory on nodes of this host, over their unix socket, straight
into the receiving function's memory (one copy): the receiving node hands
the file that memory lies in to the sending node, so it needs node.auth.keys
(refused without) and a memfd this process may make (a seccomp profile may
refuse it). auto uses what was measured to win on such a host (see
docs/BENCHMARKS.md): the sockmap where it is allowed, the shm path where
keys are set, not io_uring; none uses plain syscalls. rrnode probe shows
what this host allows. Several at once: --accel iouring,sockmap,shm.

Peers: node.listen opens the unix and tcp paths (see docs/CONFIG.md), and
functions of the peers listed in the config are reached over their paths.
--listen-unix and --listen-tcp override node.listen.unix and .tcp; --tcp-send
overrides node.tcp_send (auto, write or splice); --verify turns on the CRC32C
of every frame this node sends.

Engines: --engine picks the WebAssembly runtime (see rrnode version for those
compiled in). wazero, the default, is pure Go; wasmtime needs a binary built
with make build WASMTIME=1 (go build -tags wasmtime).`,
		Args: exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			f.tcpSendSet = c.Flags().Changed("tcp-send")
			return runStart(c.Context(), f, std.err)
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.config, "config", "", "the node's YAML config `file` (required)")
	fl.StringVar(&f.http, "http", "", "ingress `address` host:port, overriding node.http (port 0 picks a free one)")
	f.accel = transport.AccelAuto
	fl.Var(&f.accel, "accel", "accelerators: auto, none, or a comma-separated list of iouring, sockmap and shm")
	fl.BoolVar(&f.strictAccel, "strict-accel", false, "fail instead of falling back when an accelerator named in --accel is unavailable")
	fl.StringVar(&f.engine, "engine", defaultEngine, "WebAssembly `engine`: "+engineNames()+" in this build (wasmtime and wasmedge need a build with their tag)")
	fl.BoolVar(&f.verify, "verify", false, "put a CRC32C in every frame this node sends to a peer (node.verify)")
	fl.Var(&f.tcpSend, "tcp-send", "tcp path send mechanism: auto|write|splice, overriding node.tcp_send")
	fl.StringVar(&f.listenUnix, "listen-unix", "", "unix path socket `path`, overriding node.listen.unix")
	fl.StringVar(&f.listenTCP, "listen-tcp", "", "tcp path `address` host:port, overriding node.listen.tcp")
	fl.BoolVar(&f.watchConfig, "watch-config", true, "reload when the config file's content changes (its directory is watched, so a Kubernetes ConfigMap update counts); false: reload on SIGHUP only")
	fl.StringVar(&f.logFormat, "log-format", "text", "log format: text|json")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug|info|warn|error")
	registerStartCompletions(c)
	return c
}

func newLogger(format, level string, w io.Writer) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Errorf("--log-level %q: want debug, info, warn or error", level)}
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usageError{fmt.Errorf("--log-format %q: want text or json", format)}
}

// runStart runs a node until ctx ends or SIGINT/SIGTERM comes, then
// drains it. The signal handler is its first step: a signal during start-up
// stops the start at the step it reached, undoes what was done and exits 0
// (see startup.abort).
func runStart(ctx context.Context, f startFlags, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	hup := notifyHUP() // before anything: by default SIGHUP ends a Go program
	defer signal.Stop(hup)
	eng, log, err := parseStartFlags(f, stderr)
	if err != nil {
		return err
	}
	s := &startup{ctx: ctx, stop: stop, log: log}
	s.reload = newReloader(log, hup, func() (*node.Config, [sha256.Size]byte, error) { return loadConfig(f) })
	defer s.reload.close()
	if err := s.loadConfig(f); err != nil {
		return s.abort(err)
	}
	if err := s.listenHTTP(); err != nil {
		return s.abort(err)
	}
	if err := s.openEngine(eng); err != nil {
		return s.abort(err)
	}
	if err := s.newNode(f); err != nil {
		return s.abort(err)
	}
	if err := s.listen(); err != nil {
		return s.abort(err)
	}
	served, err := s.serve()
	if err != nil {
		return s.abort(err)
	}
	log.Info("node started", "node", s.n.Name(), "engine", eng.name+" "+eng.version(), "http", s.early.Addr().String(), "functions", len(s.cfg.Functions), "peers", len(s.cfg.Peers), "config", f.config)
	s.reload.serve(s.n, f.config, s.sum, f.watchConfig)
	return s.waitAndDrain(stop, served)
}

// parseStartFlags checks the flags that need no config file and returns
// the engine and logger they name.
func parseStartFlags(f startFlags, stderr io.Writer) (engine, *slog.Logger, error) {
	if f.config == "" {
		return engine{}, nil, usageError{errors.New("start: --config is required (see rrnode start --help)")}
	}
	eng, err := lookupEngine(f.engine)
	if err != nil {
		return engine{}, nil, err
	}
	log, err := newLogger(f.logFormat, f.logLevel, stderr)
	if err != nil {
		return engine{}, nil, err
	}
	if err := checkHostPort("--http", f.http); err != nil {
		return engine{}, nil, err
	}
	if err := checkHostPort("--listen-tcp", f.listenTCP); err != nil {
		return engine{}, nil, err
	}
	return eng, log, nil
}

// checkHostPort checks an address flag: host:port, or "" for the config's.
// The port is a number 0..65535 or a service name this host knows (port 0
// picks a free one), so that a bad value is blamed on the flag, not on the
// config it overrides.
func checkHostPort(flag, addr string) error {
	if addr == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return usageError{fmt.Errorf("%s %q: want host:port: %w", flag, addr, err)}
	}
	if p, err := strconv.ParseUint(port, 10, 64); err == nil {
		if p > 65535 {
			return usageError{fmt.Errorf("%s %q: port %d is out of range 0..65535", flag, addr, p)}
		}
		return nil
	}
	if _, err := net.LookupPort("tcp", port); err != nil || port == "" {
		return usageError{fmt.Errorf("%s %q: port %q is neither a number 0..65535 nor a known service name", flag, addr, port)}
	}
	return nil
}

// startup is rrnode start's state between its steps. Each step first
// enters its stage: it stops there if the start was stopped (ctx ended),
// and records the stage for the log line that says so. What the steps made
// is undone, in reverse, by abort.
type startup struct {
	ctx   context.Context // ends on SIGINT, SIGTERM or the caller's cancel
	stop  func()          // ends the signal handling: a second signal kills at once
	log   *slog.Logger
	stage string

	cfg     *node.Config
	sum     [sha256.Size]byte // of the config file's bytes cfg came from
	reload  *reloader
	rt      runtime.Engine // until newNode hands it to the node; nil: the node makes wazero
	n       *node.Node
	peerLns map[transport.Path]net.Listener
	early   *earlyIngress // the HTTP ingress's listener, served early, then by the node
}

// enter begins the step stage: it returns ctx's cause if the start was
// stopped. RR_TEST_START_PAUSE can hold the start here (see pause).
func (s *startup) enter(stage string) error {
	s.stage = stage
	s.pause(stage)
	if s.ctx.Err() != nil {
		return context.Cause(s.ctx)
	}
	return nil
}

// loadConfig reads the config file and applies the flags that override it.
func (s *startup) loadConfig(f startFlags) error {
	if err := s.enter("config"); err != nil {
		return err
	}
	cfg, sum, err := loadConfig(f)
	if err != nil {
		return err
	}
	s.cfg, s.sum = cfg, sum
	return nil
}

// loadConfig reads the config file, as node.LoadConfig does, and applies
// the flags that override it: start-up and every reload load it so. It
// returns the sha256 of the bytes read (zero if the file could not be
// read), which the config file watch compares to tell a change.
func loadConfig(f startFlags) (*node.Config, [sha256.Size]byte, error) {
	cfg, data, err := node.ReadConfig(f.config)
	var sum [sha256.Size]byte
	if data != nil {
		sum = sha256.Sum256(data)
	}
	if err != nil {
		return nil, sum, err
	}
	if f.http != "" {
		cfg.Node.HTTP = f.http
	}
	if f.verify {
		cfg.Node.Verify = true
	}
	if f.tcpSendSet {
		cfg.Node.TCPSend = f.tcpSend
	}
	if f.listenUnix != "" {
		cfg.Node.Listen.Unix = f.listenUnix
	}
	if f.listenTCP != "" {
		cfg.Node.Listen.TCP = f.listenTCP
	}
	return cfg, sum, nil
}

// openEngine makes the engine the functions run on, or leaves it to the
// node (wazero, the default).
func (s *startup) openEngine(e engine) error {
	if err := s.enter("engine"); err != nil {
		return err
	}
	rt, err := openEngine(s.ctx, e, s.cfg.Node.CacheDir)
	if err != nil {
		return err
	}
	s.rt = rt
	return nil
}

// newNode makes the node: its accelerators (the sockmap's pins), its peers
// and its functions, compiled. The node owns the engine from here on: it
// closes it on Shutdown, or when New fails, and New returns at once when
// the start is stopped in the middle of a compilation.
func (s *startup) newNode(f startFlags) error {
	if err := s.enter("load"); err != nil {
		return err
	}
	rt := s.pauseInLoad(s.rt)
	s.rt = nil
	n, err := node.New(s.ctx, s.cfg, &node.Options{Engine: rt, CloseEngine: rt != nil, Logger: s.log, Accel: f.accel, StrictAccel: f.strictAccel, Version: buildVersion()})
	if err != nil {
		return err
	}
	s.n = n
	c := n.Config()
	s.cfg = &c
	return nil
}

// listen opens the node's peer listeners (node.listen: the unix socket and
// its lock, tcp) and the HTTP ingress's.
func (s *startup) listen() error {
	if err := s.enter("listen"); err != nil {
		return err
	}
	lns, err := s.n.Listen(s.ctx)
	if err != nil {
		return err
	}
	s.peerLns = lns
	return nil
}

// listenHTTP opens the HTTP ingress's listener and answers there while the
// node starts (earlyIngress): /healthz 200, /readyz 503 "starting",
// invocations 503 with Retry-After. serve hands it to the node.
func (s *startup) listenHTTP() error {
	if err := s.enter("ingress"); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.cfg.Node.HTTP)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	s.early = startEarlyIngress(ln, s.log)
	s.log.Info("listening", "path", "http", "addr", ln.Addr().String())
	return nil
}

// serve serves the HTTP ingress and the peer paths on their listeners,
// which are the node's from then on. Each server's end is sent on the
// returned channel.
func (s *startup) serve() (chan error, error) {
	if err := s.enter("serve"); err != nil {
		return nil, err
	}
	served := make(chan error, 1+len(s.peerLns))
	ln := s.early.hand(context.WithoutCancel(s.ctx))
	go func() { served <- s.n.Serve(ln) }()
	for path, l := range s.peerLns {
		s.log.Info("listening", "path", path.String(), "addr", l.Addr().String())
		go func() { served <- s.n.ServeTransport(path, l) }()
	}
	return served, nil
}

// abort ends a start that failed or was stopped in s.stage: it closes the
// listeners (removing the unix socket, releasing its lock), then shuts the
// node down (functions, engine, sockmap pins), or closes the engine if no
// node was made. A start stopped by a signal (or the caller) is a clean
// stop: one log line says so and rrnode exits 0 unless undoing failed.
func (s *startup) abort(err error) error {
	if s.ctx.Err() != nil {
		s.stop() // a second signal while undoing ends the process at once, as in a drain
	}
	var errs []error
	for _, l := range s.peerLns {
		l.Close()
	}
	if s.early != nil {
		s.early.close()
	}
	bg := context.WithoutCancel(s.ctx)
	if s.n != nil {
		errs = append(errs, s.n.Shutdown(bg))
	}
	if s.rt != nil {
		errs = append(errs, s.rt.Close(bg))
	}
	if s.ctx.Err() != nil {
		s.log.Info("stopped while starting", "stage", s.stage, "cause", context.Cause(s.ctx))
		return errors.Join(errs...)
	}
	return errors.Join(append([]error{err}, errs...)...)
}

// waitAndDrain serves until a signal (or the end of ctx) or until a server
// fails, then turns readiness off, serves on for node.drain_delay, and
// drains the node: it stops taking invocations and waits up to
// node.drain_timeout for those in flight. stop ends the signal handling
// first, so that a second signal ends the process at once.
func (s *startup) waitAndDrain(stop context.CancelFunc, served chan error) error {
	var serveErr error
	select {
	case <-s.ctx.Done():
	case serveErr = <-served:
		served <- nil
	}
	stop()
	s.reload.drain() // waits for a reload in progress, cancelled
	// Readiness goes off at once; everything is still served for
	// drain_delay, while the endpoints that route here drop the node. A
	// second signal (default handling again, since stop) ends the process.
	s.n.StopReady()
	if d := s.cfg.Node.DrainDelay; d > 0 && serveErr == nil {
		s.log.Info("not ready: serving on before draining", "drain_delay", d)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case serveErr = <-served:
			served <- nil
			t.Stop()
		}
	}
	s.log.Info("shutting down", "drain_timeout", s.cfg.Node.DrainTimeout)
	dctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), s.cfg.Node.DrainTimeout)
	defer cancel()
	err := s.n.Shutdown(dctx)
	for range 1 + len(s.peerLns) {
		if e := <-served; e != nil && serveErr == nil {
			serveErr = e
		}
	}
	return errors.Join(serveErr, err)
}
