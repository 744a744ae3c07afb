package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/roadrunner-wasm/roadrunner/internal/bench"
	benchguests "github.com/roadrunner-wasm/roadrunner/internal/bench/guests"
	"github.com/roadrunner-wasm/roadrunner/runtime"
	rrwazero "github.com/roadrunner-wasm/roadrunner/runtime/wazero"
)

type benchFlags struct {
	sizes, paths, out         string
	output                    *output
	repeat, warmup, conc      int
	batch                     int
	wasmDir, engine, cacheDir string
	rrnode                    string
	verbose, coldStart        bool
}

func newBenchCmd(std stdio) *cobra.Command {
	var f benchFlags
	c := &cobra.Command{
		Use:   "bench",
		Short: "Measure every path against realistic baselines and the paper's: latency, throughput, CPU, memory",
		Long: `Reproduce the Roadrunner paper's evaluation on this machine: move payloads
of each size between two functions over every path, and over the baselines
the paper compares against, and write the results.

Paths: memory, shm, unix, tcp, unix+iouring, tcp+iouring, tcp+sockmap
(rrnode nodes started as child processes, --accel none, shm, iouring or
sockmap with --strict-accel; shm's nodes share a key and their receiving
functions have shared_memory; a path this host does not allow is a row
marked unavailable with the probe's reason). Baselines:
  http-raw          two Wasm functions in two processes passing raw bytes
                    over HTTP/1.1 on loopback, as wasi-http or Spin's service
                    chaining do: the sending host's HTTP client streams the
                    body out of guest memory, the receiving guest reads it
                    from its host's 64 KiB buffer with a stream call
                    (body_read) until it ends; wazero whatever --engine
  http-json         the paper's baseline: two Wasm functions exchanging the
                    payload as JSON {"data":"<base64>"} over HTTP/1.1 on
                    loopback, encoded and decoded in the guests
  native-http       raw bytes POSTed between two native Go processes, read
                    into a reused buffer
  native-http-json  the same as JSON, encoded and decoded natively
  memcpy            one Go copy into a reused, touched buffer
  socket-unix, socket-tcp
                    a plain Go socket loop between two processes, 1 MiB
                    writes and reads into a reused buffer

Every delivery is verified by its receiver (a checksum of the body, then the
buffer is zeroed); the verification is timed and subtracted from the
latency and the receiver's CPU. Start-up is excluded and reported apart.
Within each repetition the paths run one after the other, in an order
rotated every repetition.

Results go to --out: results.csv (one row per size and path), results-wide.csv
(size_mb, then one column of median latency in seconds per path),
results.md, results.json, latency.svg/png, throughput.svg/png,
speedup.svg/png. -o/--output picks what is printed on standard output:
table (results.md and where the files are), csv (results.csv) or json
(results.json). A progress line goes to standard error.
Exit status 1 if any delivery failed to verify or any path failed.

The guests are built into rrnode (internal/bench/guests, checked against
their sources by make test): bench runs from an installed binary with no
checkout. --wasm-dir reads them from a directory instead (make wasm builds
them in build/wasm).`,
		Args: exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			if c.Flags().Changed("format") {
				fmt.Fprintln(std.err, "rrnode bench: --format is deprecated: use -o (--output), which takes the same values")
			}
			return runBench(c.Context(), f, std)
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.sizes, "sizes", "1MiB,2MiB,4MiB,8MiB,16MiB,32MiB,64MiB,128MiB,256MiB", "payload `sizes`, comma-separated, 64B to 1GiB: bytes, or a number and a unit, KiB, MiB, GiB or kB, MB, GB (the grammar: docs/CONFIG.md#sizes)")
	fl.IntVar(&f.repeat, "repeat", 10, "repetitions per size and path")
	fl.IntVar(&f.warmup, "warmup", 2, "warm-up transfers per size and path (verified, not timed)")
	fl.IntVar(&f.conc, "concurrency", 1, "senders at once for transfers/s (1..64)")
	fl.IntVar(&f.batch, "batch", 0, "transfers per path per repetition (0: 32 MiB ÷ size, 1..32)")
	fl.StringVar(&f.paths, "paths", "all", "`paths`, comma-separated: all, or some of "+strings.Join(bench.AllPaths, ","))
	fl.StringVar(&f.out, "out", "bench-results", "`directory` for the result files")
	fl.StringVar(&f.wasmDir, "wasm-dir", "", "`directory` of the guests: "+strings.Join(bench.Modules, ", ")+" (.wasm, as make wasm builds them in build/wasm); default: those built into this rrnode from examples/ (by "+benchguests.GoVersion+")")
	fl.StringVar(&f.engine, "engine", defaultEngine, "WebAssembly `engine` of the nodes: "+engineNames())
	fl.StringVar(&f.cacheDir, "cache-dir", "", "the nodes' compilation cache (node.cache_dir); \"\" = the engine's default")
	fl.StringVar(&f.rrnode, "rrnode", "", "the rrnode `binary` for the nodes and agents (default: this one)")
	fl.BoolVar(&f.coldStart, "cold-start", true, "measure each engine's cold start (compile and first instance, empty and warm cache)")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "copy the nodes' and agents' output to standard error")
	f.output = addOutputFlag(c, "table", "csv", "json")
	// --format is -o's name before -o existed: the same variable, hidden.
	fl.StringVar(&f.output.value, "format", "table", "the same as -o (deprecated)")
	fl.MarkHidden("format")
	registerBenchCompletions(c)
	return c
}

func runBench(ctx context.Context, f benchFlags, std stdio) error {
	sizes, err := bench.ParseSizes(f.sizes)
	if err != nil {
		return usageError{fmt.Errorf("--sizes: %w", err)}
	}
	paths, err := bench.ParsePaths(f.paths)
	if err != nil {
		return usageError{fmt.Errorf("--paths: %w", err)}
	}
	if f.repeat < 1 || f.warmup < 1 || f.conc < 1 || f.conc > 64 || f.batch < 0 {
		return usageError{errors.New("--repeat, --warmup ≥ 1, --concurrency 1..64, --batch ≥ 0")}
	}
	if _, err := lookupEngine(f.engine); err != nil {
		return err
	}
	bin := f.rrnode
	if bin == "" {
		if bin, err = os.Executable(); err != nil {
			return fmt.Errorf("find this rrnode: %w", err)
		}
	}
	wasmDir, err := benchWasmDir(f.wasmDir)
	if err != nil {
		return err
	}
	if f.wasmDir == "" {
		defer os.RemoveAll(wasmDir)
	}
	o := bench.Options{
		Sizes: sizes, Repeat: f.repeat, Warmup: f.warmup, Concurrency: f.conc, Batch: f.batch, Paths: paths,
		Out: f.out, Rrnode: bin, WasmDir: wasmDir, Engine: f.engine, CacheDir: f.cacheDir,
		Engines: benchEngines(), Progress: std.err, ProgressTTY: isTerminal(std.err),
	}
	if f.verbose {
		o.NodeLog = std.err
	}
	if !f.coldStart {
		o.Engines = nil
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := bench.Run(ctx, o)
	if res == nil {
		return err
	}
	if werr := res.WriteFiles(f.out); werr != nil {
		return errors.Join(err, werr)
	}
	switch f.output.value {
	case "table":
		res.WriteMarkdown(std.out)
		fmt.Fprintf(std.out, "\nresults: %s (%s)\n", f.out, strings.Join(bench.Files, ", "))
	case "csv":
		res.WriteCSV(std.out)
	case "json":
		res.WriteJSON(std.out)
	}
	if err != nil {
		return err
	}
	if n := res.Failed(); n > 0 {
		return fmt.Errorf("bench: %d path(s) failed (see the error column of %s)", n, filepath.Join(f.out, "results.csv"))
	}
	return nil
}

// benchWasmDir is the directory the bench's nodes load their guests from:
// dir, or with dir "" a new temporary directory (the caller removes it)
// holding the guests embedded in this rrnode, so that an installed rrnode
// needs no checkout.
func benchWasmDir(dir string) (string, error) {
	if dir != "" {
		return filepath.Abs(dir)
	}
	tmp, err := os.MkdirTemp("", "rrnode-bench-guests-")
	if err != nil {
		return "", err
	}
	if err := benchguests.WriteDir(tmp, bench.Modules); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("embedded guests: %w", err)
	}
	return tmp, nil
}

// benchEngines are the engines compiled in, for the cold start rows.
func benchEngines() []bench.Engine {
	var out []bench.Engine
	for _, e := range engines {
		open := e.open
		if open == nil { // wazero: node.New's default
			open = func(ctx context.Context, cacheDir string) (runtime.Engine, error) {
				return rrwazero.New(ctx, &rrwazero.Options{CacheDir: cacheDir})
			}
		}
		out = append(out, bench.Engine{Name: e.name, Version: e.version(), Open: open})
	}
	return out
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// newBenchAgentCmd is rrnode bench's helper processes (hidden).
func newBenchAgentCmd(std stdio) *cobra.Command {
	var engineName string
	c := &cobra.Command{
		Use:    "bench-agent ROLE [ARGS]",
		Short:  "A helper process of rrnode bench (" + strings.Join(bench.AgentRoles, ", ") + ")",
		Hidden: true,
		Args:   cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			e, err := lookupEngine(engineName)
			if err != nil {
				return err
			}
			return bench.RunAgent(c.Context(), args[0], args[1:], &bench.AgentOptions{OpenEngine: e.open}, std.in, std.out)
		},
	}
	c.Flags().StringVar(&engineName, "engine", defaultEngine, "engine of http-json's sending node")
	return c
}

// newBenchCheckCmd checks a results.csv as CI's smoke run does (hidden).
func newBenchCheckCmd(std stdio) *cobra.Command {
	var paths, sizes string
	var requireAvailable bool
	c := &cobra.Command{
		Use:    "bench-check FILE",
		Short:  "Check that a results.csv has a row for every path and size, every delivery verified",
		Hidden: true,
		Args:   exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			ps, err := bench.ParsePaths(paths)
			if err != nil {
				return usageError{err}
			}
			var ss []int64
			if sizes != "" {
				if ss, err = bench.ParseSizes(sizes); err != nil {
					return usageError{err}
				}
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			if err := bench.CheckCSV(f, ps, ss, requireAvailable); err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if requireAvailable {
				fmt.Fprintf(std.out, "%s: a row for each path and size, every path available, every delivery verified\n", args[0])
				return nil
			}
			fmt.Fprintf(std.out, "%s: a row for each path and size, every delivery verified\n", args[0])
			return nil
		},
	}
	c.Flags().StringVar(&paths, "paths", "all", "paths that must have rows")
	c.Flags().StringVar(&sizes, "sizes", "", "sizes that must have rows (default: those in the file)")
	// A flag rather than reading RR_REQUIRE_PRIVILEGED here: what the check
	// demands shows on its command line (make bench-smoke passes it when
	// the variable is 1), and the command behaves the same in every
	// environment.
	c.Flags().BoolVar(&requireAvailable, "require-available", false, "fail on a row marked unavailable (CI: every accelerator must be measured)")
	return c
}
