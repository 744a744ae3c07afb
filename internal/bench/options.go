package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/roadrunner-wasm/roadrunner/internal/bench/payload"
	"github.com/roadrunner-wasm/roadrunner/internal/bytesize"
	"github.com/roadrunner-wasm/roadrunner/runtime"
	"github.com/roadrunner-wasm/roadrunner/transport/features"
)

// The path names. They are part of the interface: scripts parse them from
// the CSV.
const (
	PathMemory         = "memory"
	PathUnix           = "unix"
	PathTCP            = "tcp"
	PathUnixIOURing    = "unix+iouring"
	PathTCPIOURing     = "tcp+iouring"
	PathTCPSockmap     = "tcp+sockmap"
	PathShm            = "shm"
	PathHTTPRaw        = "http-raw"
	PathHTTPJSON       = "http-json"
	PathNativeHTTP     = "native-http"
	PathNativeHTTPJSON = "native-http-json"
	PathMemcpy         = "memcpy"
	PathSocketUnix     = "socket-unix"
	PathSocketTCP      = "socket-tcp"
)

// AllPaths are every path, in the order of the outputs' columns.
var AllPaths = []string{
	PathMemory, PathShm, PathUnix, PathTCP, PathUnixIOURing, PathTCPIOURing, PathTCPSockmap,
	PathHTTPRaw, PathHTTPJSON, PathNativeHTTP, PathNativeHTTPJSON, PathMemcpy, PathSocketUnix, PathSocketTCP,
}

// Baseline is the path speed-ups are measured against: the paper's
// serialization baseline.
const Baseline = PathHTTPJSON

// DefaultSizes are the payload sizes rrnode bench moves by default.
var DefaultSizes = []int64{1 << 20, 2 << 20, 4 << 20, 8 << 20, 16 << 20, 32 << 20, 64 << 20, 128 << 20, 256 << 20}

// MaxSize is the largest payload: ABI lengths are u32, and http-json's
// base64 must fit a guest's 4 GiB memory beside it.
const MaxSize = 1 << 30

// Modules are the guest modules (files) of the benchmark.
var Modules = []string{"benchsrc", "benchsink", "jsonsrc", "jsonsink", "rawsrc", "rawsink"}

// Engine is a WebAssembly engine compiled into this rrnode, for the cold
// start measurement.
type Engine struct {
	Name, Version string
	// Open makes the engine over the compilation cache in cacheDir ("" =
	// none).
	Open func(ctx context.Context, cacheDir string) (runtime.Engine, error)
}

// Options configures Run. Zero fields take their defaults.
type Options struct {
	Sizes       []int64  // payload sizes in bytes; default DefaultSizes
	Repeat      int      // repetitions; default 10
	Warmup      int      // transfers per path and size before the first repetition; default 2
	Concurrency int      // senders at once for transfers/s; default 1
	Batch       int      // transfers per path in one repetition; 0 = by size (32 MiB / size, 1..32)
	Paths       []string // default AllPaths
	Out         string   // directory for the result files; "" = none written

	// Rrnode is the rrnode binary the nodes and agents run (required).
	Rrnode string
	// WasmDir holds the guests' modules, <name>.wasm for each of Modules
	// (required).
	WasmDir string
	// Engine runs the Roadrunner paths' and http-json's functions (rrnode
	// start --engine); default "wazero". http-raw's hosts embed wazero
	// whatever Engine is (its rows say so when it is another).
	Engine string
	// CacheDir is the nodes' compilation cache (node.cache_dir); "" = the
	// engine's default directory.
	CacheDir string
	// Engines are measured for cold start; none: no cold start rows.
	Engines []Engine

	// Progress receives a progress line while Run runs (nil: none);
	// ProgressTTY rewrites one line with \r instead of printing one per
	// step.
	Progress    io.Writer
	ProgressTTY bool
	// NodeLog receives the nodes' and agents' output (nil: kept, and quoted
	// when one fails).
	NodeLog io.Writer

	// Probe answers which features this host has; default features.Probe.
	Probe func() []features.Feature

	// MemoryBudget bounds the memory the processes of one group of paths may
	// need at once; paths that would exceed it at a size run in more groups
	// (one after the other, each interleaved). 0 = 60% of MemAvailable.
	MemoryBudget int64
}

func (o *Options) setDefaults() error {
	if len(o.Sizes) == 0 {
		o.Sizes = DefaultSizes
	}
	for _, s := range o.Sizes {
		if s < payload.MinSize || s > MaxSize {
			return fmt.Errorf("size %d: want %d B to %d B", s, payload.MinSize, MaxSize)
		}
	}
	if o.Repeat == 0 {
		o.Repeat = 10
	}
	if o.Warmup == 0 {
		o.Warmup = 2
	}
	if o.Concurrency == 0 {
		o.Concurrency = 1
	}
	if o.Repeat < 1 || o.Warmup < 0 || o.Concurrency < 1 || o.Concurrency > 64 || o.Batch < 0 {
		return fmt.Errorf("repeat %d, warmup %d, concurrency %d, batch %d: want repeat ≥ 1, warmup ≥ 0, concurrency 1..64, batch ≥ 0", o.Repeat, o.Warmup, o.Concurrency, o.Batch)
	}
	if len(o.Paths) == 0 {
		o.Paths = AllPaths
	}
	for _, p := range o.Paths {
		if !slices.Contains(AllPaths, p) {
			return fmt.Errorf("path %q: want one of %s", p, strings.Join(AllPaths, ", "))
		}
	}
	if o.Rrnode == "" || o.WasmDir == "" {
		return errors.New("Options.Rrnode and Options.WasmDir are required")
	}
	if o.Engine == "" {
		o.Engine = "wazero"
	}
	if o.Probe == nil {
		o.Probe = features.Probe
	}
	return nil
}

// batchFor is how many transfers of size bytes one repetition makes per
// path: enough that a batch of small payloads is not dominated by what
// starts it, one for large ones.
func (o *Options) batchFor(size int64) int {
	if o.Batch > 0 {
		return o.Batch
	}
	return int(max(1, min(32, (32<<20)/size)))
}

// ParseSize parses a payload size in the grammar of the config's sizes
// (package bytesize, docs/CONFIG.md#sizes: 4096, 64MiB, 500MB, 1.5GiB),
// from payload.MinSize to MaxSize.
func ParseSize(s string) (int64, error) {
	n, err := bytesize.Parse(s)
	if err != nil {
		return 0, fmt.Errorf("%w; want a size: %s (%s)", err, bytesize.Grammar, bytesize.Doc)
	}
	if n < payload.MinSize || n > MaxSize {
		return 0, fmt.Errorf("size %q: want %d B to %s", s, payload.MinSize, bytesize.Format(MaxSize))
	}
	return n, nil
}

// ParseSizes parses a comma-separated list of sizes.
func ParseSizes(s string) ([]int64, error) {
	var out []int64
	for _, f := range strings.Split(s, ",") {
		if strings.TrimSpace(f) == "" {
			continue
		}
		n, err := ParseSize(strings.TrimSpace(f))
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("no sizes")
	}
	return out, nil
}

// ParsePaths parses a comma-separated list of path names; "all" (or "")
// is every path.
func ParsePaths(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" || s == "all" {
		return AllPaths, nil
	}
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if !slices.Contains(AllPaths, f) {
			return nil, fmt.Errorf("path %q: want all, or some of %s", f, strings.Join(AllPaths, ","))
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out, nil
}

// SizeName is a size as people write it: 64MiB, 4KiB, 500MB, 1000B.
func SizeName(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1e6 && n%1e6 == 0:
		return fmt.Sprintf("%dMB", n/1e6)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// ioDeadline bounds one batch: generous, as http-json moves hundreds of MB
// through a decoder in Wasm.
func ioDeadline(size int64, count int) time.Duration {
	return 2*time.Minute + time.Duration(count)*time.Duration(size/(1<<20))*time.Second
}
