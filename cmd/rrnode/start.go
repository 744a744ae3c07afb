package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/roadrunner-wasm/roadrunner/node"
	"github.com/roadrunner-wasm/roadrunner/transport"
)

type startFlags struct {
	config      string
	http        string
	accel       string
	strictAccel bool
	logFormat   string
	logLevel    string
	engine      string
	verify      bool
	tcpSend     string
	listenUnix  string
	listenTCP   string
}

func newStartCmd(std stdio) *cobra.Command {
	var f startFlags
	c := &cobra.Command{
		Use:   "start --config FILE",
		Short: "Run a node: load its functions and serve the HTTP ingress",
		Long: `Run a node: load the functions of the config file, serve the HTTP ingress
(POST /v1/functions/{name}), /healthz and /metrics, until SIGINT or SIGTERM.
Then drain: stop accepting, let the invocations in flight finish (up to
node.drain_timeout), close the functions and exit 0.

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
the same way. auto uses what was measured to win on such a host (see
docs/BENCHMARKS.md): the sockmap where it is allowed, not io_uring; none
uses plain syscalls. rrnode probe shows what this host allows.

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
			return runStart(c.Context(), f, std.err)
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.config, "config", "", "the node's YAML config `file` (required)")
	fl.StringVar(&f.http, "http", "", "ingress `address` host:port, overriding node.http (port 0 picks a free one)")
	fl.StringVar(&f.accel, "accel", transport.AccelAuto.String(), "accelerators: auto|none|iouring|sockmap|iouring,sockmap")
	fl.BoolVar(&f.strictAccel, "strict-accel", false, "fail instead of falling back when an accelerator named in --accel is unavailable")
	fl.StringVar(&f.engine, "engine", defaultEngine, "WebAssembly `engine`: wazero|wasmtime (wasmtime needs a build with -tags wasmtime)")
	fl.BoolVar(&f.verify, "verify", false, "put a CRC32C in every frame this node sends to a peer (node.verify)")
	fl.StringVar(&f.tcpSend, "tcp-send", "", "tcp path send mechanism: auto|write|splice, overriding node.tcp_send")
	fl.StringVar(&f.listenUnix, "listen-unix", "", "unix path socket `path`, overriding node.listen.unix")
	fl.StringVar(&f.listenTCP, "listen-tcp", "", "tcp path `address` host:port, overriding node.listen.tcp")
	fl.StringVar(&f.logFormat, "log-format", "text", "log format: text|json")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug|info|warn|error")
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

func runStart(ctx context.Context, f startFlags, stderr io.Writer) error {
	if f.config == "" {
		return usageError{errors.New("start: --config is required (see rrnode start --help)")}
	}
	accel, err := transport.ParseAccels(f.accel)
	if err != nil {
		return usageError{fmt.Errorf("--accel: %w", err)}
	}
	eng, err := lookupEngine(f.engine)
	if err != nil {
		return err
	}
	log, err := newLogger(f.logFormat, f.logLevel, stderr)
	if err != nil {
		return err
	}
	if f.http != "" {
		if _, _, err := net.SplitHostPort(f.http); err != nil {
			return usageError{fmt.Errorf("--http %q: want host:port: %w", f.http, err)}
		}
	}
	tcpSend, err := transport.ParseMechanism(f.tcpSend)
	if err != nil {
		return usageError{fmt.Errorf("--tcp-send: %w", err)}
	}
	if f.listenTCP != "" {
		if _, _, err := net.SplitHostPort(f.listenTCP); err != nil {
			return usageError{fmt.Errorf("--listen-tcp %q: want host:port: %w", f.listenTCP, err)}
		}
	}
	cfg, err := node.LoadConfig(f.config)
	if err != nil {
		return err
	}
	if f.http != "" {
		cfg.Node.HTTP = f.http
	}
	if f.verify {
		cfg.Node.Verify = true
	}
	if f.tcpSend != "" {
		cfg.Node.TCPSend = tcpSend
	}
	if f.listenUnix != "" {
		cfg.Node.Listen.Unix = f.listenUnix
	}
	if f.listenTCP != "" {
		cfg.Node.Listen.TCP = f.listenTCP
	}
	rt, err := openEngine(ctx, eng, cfg.Node.CacheDir)
	if err != nil {
		return err
	}
	// The node closes an engine it made; one made here is closed after
	// the node's Shutdown (its functions first, then their engine).
	closeEngine := func() error { return nil }
	if rt != nil {
		closeEngine = func() error { return rt.Close(context.WithoutCancel(ctx)) }
	}
	n, err := node.New(ctx, cfg, &node.Options{Engine: rt, Logger: log, Accel: accel, StrictAccel: f.strictAccel})
	if err != nil {
		return errors.Join(err, closeEngine())
	}
	cfg2 := n.Config()
	peerLns, err := n.Listen(ctx)
	if err != nil {
		return errors.Join(err, n.Shutdown(context.Background()), closeEngine())
	}
	ln, err := net.Listen("tcp", cfg2.Node.HTTP)
	if err != nil {
		for _, l := range peerLns {
			l.Close()
		}
		return errors.Join(fmt.Errorf("listen: %w", err), n.Shutdown(context.Background()), closeEngine())
	}
	served := make(chan error, 1+len(peerLns))
	go func() { served <- n.Serve(ln) }()
	for path, l := range peerLns {
		log.Info("listening", "path", path.String(), "addr", l.Addr().String())
		go func() { served <- n.ServeTransport(path, l) }()
	}
	log.Info("node started", "node", n.Name(), "engine", eng.name+" "+eng.version(), "http", ln.Addr().String(), "functions", len(cfg2.Functions), "peers", len(cfg2.Peers), "config", f.config)

	sig, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var serveErr error
	select {
	case <-sig.Done():
	case serveErr = <-served:
		served <- nil
	}
	stop() // a second signal ends the process at once
	log.Info("shutting down", "drain_timeout", cfg2.Node.DrainTimeout)
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg2.Node.DrainTimeout)
	defer cancel()
	err = n.Shutdown(dctx)
	for range 1 + len(peerLns) {
		if e := <-served; e != nil && serveErr == nil {
			serveErr = e
		}
	}
	return errors.Join(serveErr, err, closeEngine())
}
