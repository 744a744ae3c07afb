package node

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is a node's configuration, as read from YAML by [LoadConfig]:
//
//	node:
//	  name: demo                 # optional, default the hostname
//	  http: 127.0.0.1:8080       # ingress address
//	  max_payload: 256MiB        # default per-function limit, < 4GiB
//	  max_depth: 16              # longest send chain (http -> a -> b ...)
//	  invocation_timeout: 60s
//	  drain_timeout: 30s         # graceful shutdown wait
//	  cache_dir: ""              # compilation cache: "" = default dir, "off" = none
//	functions:
//	  - name: producer           # [A-Za-z0-9._-]{1,64}, unique
//	    module: producer.wasm    # relative to the config file's directory
//	    pool: 2                  # instances, 1..1024; default GOMAXPROCS
//	    max_payload: 128MiB      # default node.max_payload
//
// Sizes are an integer (bytes) or a string with a suffix B, KiB, MiB or GiB.
type Config struct {
	// Path is the file the configuration was read from; errors name it.
	Path      string
	Node      NodeConfig
	Functions []FunctionConfig
}

// NodeConfig is the node section. Zero fields take their defaults.
type NodeConfig struct {
	Name              string        // default: the hostname
	HTTP              string        // default: DefaultHTTP
	MaxPayload        uint64        // bytes; default: DefaultMaxPayload
	MaxDepth          int           // default: DefaultMaxDepth
	InvocationTimeout time.Duration // default: DefaultInvocationTimeout
	DrainTimeout      time.Duration // default: DefaultDrainTimeout
	CacheDir          string        // "" = the engine's default directory, CacheOff = no disk cache
}

// FunctionConfig is one entry of the functions section.
type FunctionConfig struct {
	Name       string
	Module     string // path of the .wasm file; LoadConfig resolves it against the config file's directory
	Pool       int    // instances; default GOMAXPROCS (at most MaxPool)
	MaxPayload uint64 // bytes; default NodeConfig.MaxPayload
	// Uninterruptible is `interruptible: false`: calls into the function are
	// not stopped at the invocation's deadline, and in exchange its guest
	// code runs without the engine's deadline checks (see
	// runtime.FunctionSpec.Uninterruptible).
	Uninterruptible bool
}

// Defaults and limits of a Config.
const (
	DefaultHTTP              = "127.0.0.1:8080"
	DefaultMaxPayload        = 256 << 20
	DefaultMaxDepth          = 16
	DefaultInvocationTimeout = 60 * time.Second
	DefaultDrainTimeout      = 30 * time.Second
	CacheOff                 = "off"

	MaxPool       = 1024
	MaxDepthLimit = 1024
	// MaxPayloadLimit is one more than the largest max_payload: ABI lengths are u32.
	MaxPayloadLimit = 1 << 32
)

// ConfigError is an invalid configuration. It names the file and the field.
type ConfigError struct {
	File  string // the config file ("" if not read from a file)
	Field string // "functions[1].name"; "" when the file as a whole is wrong
	Err   error
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("config")
	if e.File != "" {
		b.WriteString(" " + e.File)
	}
	if e.Field != "" {
		b.WriteString(": " + e.Field)
	}
	b.WriteString(": " + e.Err.Error())
	return b.String()
}

func (e *ConfigError) Unwrap() error { return e.Err }

// LoadConfig reads and validates the YAML configuration in file. Module
// paths are resolved against the file's directory, and each module must
// exist.
func LoadConfig(file string) (*Config, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the message names the file already
		}
		return nil, &ConfigError{File: file, Err: err}
	}
	return ParseConfig(data, file)
}

// ParseConfig validates the YAML configuration data as if read from file
// (which names it in errors and anchors relative module paths; "" means the
// current directory). Unknown fields are errors.
func ParseConfig(data []byte, file string) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, &ConfigError{File: file, Err: err}
	}
	if len(root.Content) == 0 {
		return nil, &ConfigError{File: file, Err: errors.New("empty file")}
	}
	if err := checkShape(root.Content[0], reflect.TypeFor[rawConfig](), ""); err != nil {
		err.File = file
		return nil, err
	}
	// checkShape has named any unknown field; KnownFields stays on so that
	// the decoder can never silently drop one.
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var raw rawConfig
	if err := dec.Decode(&raw); err != nil && err != io.EOF {
		return nil, &ConfigError{File: file, Err: err}
	}
	cfg, cerr := raw.config()
	if cerr != nil {
		cerr.File = file
		return nil, cerr
	}
	cfg.Path = file
	dir := filepath.Dir(file)
	for i := range cfg.Functions {
		if m := cfg.Functions[i].Module; m != "" && !filepath.IsAbs(m) {
			cfg.Functions[i].Module = filepath.Join(dir, m)
		}
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// rawConfig is the YAML document. Scalars that need more than a string are
// kept as nodes and parsed with their field's path at hand.
type rawConfig struct {
	Node      rawNode       `yaml:"node"`
	Functions []rawFunction `yaml:"functions"`
}

type rawNode struct {
	Name              string    `yaml:"name"`
	HTTP              string    `yaml:"http"`
	MaxPayload        yaml.Node `yaml:"max_payload"`
	MaxDepth          yaml.Node `yaml:"max_depth"`
	InvocationTimeout yaml.Node `yaml:"invocation_timeout"`
	DrainTimeout      yaml.Node `yaml:"drain_timeout"`
	CacheDir          string    `yaml:"cache_dir"`
}

type rawFunction struct {
	Name          string    `yaml:"name"`
	Module        string    `yaml:"module"`
	Pool          yaml.Node `yaml:"pool"`
	MaxPayload    yaml.Node `yaml:"max_payload"`
	Interruptible yaml.Node `yaml:"interruptible"`
}

var nodeType = reflect.TypeFor[yaml.Node]()

// checkShape walks the document against the fields of t and reports, with
// its path, the first key that names no field and the first value of the
// wrong kind (a list where a mapping belongs, …).
func checkShape(n *yaml.Node, t reflect.Type, path string) *ConfigError {
	if t == nodeType || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		return nil // parsed later, with its path; or absent
	}
	want := map[reflect.Kind]yaml.Kind{reflect.Struct: yaml.MappingNode, reflect.Slice: yaml.SequenceNode, reflect.String: yaml.ScalarNode}[t.Kind()]
	if n.Kind != want {
		what := map[yaml.Kind]string{yaml.MappingNode: "a mapping", yaml.SequenceNode: "a list", yaml.ScalarNode: "a string"}[want]
		return &ConfigError{Field: path, Err: fmt.Errorf("want %s (line %d)", what, n.Line)}
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			f, ok := fieldByTag(t, key)
			if !ok {
				return &ConfigError{Field: join(path, key), Err: fmt.Errorf("unknown field (line %d)", n.Content[i].Line)}
			}
			if err := checkShape(n.Content[i+1], f.Type, join(path, key)); err != nil {
				return err
			}
		}
	case yaml.SequenceNode:
		for i, e := range n.Content {
			if err := checkShape(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (r *rawConfig) config() (*Config, *ConfigError) {
	cfg := &Config{Node: NodeConfig{
		Name:     r.Node.Name,
		HTTP:     r.Node.HTTP,
		CacheDir: r.Node.CacheDir,
	}}
	var err *ConfigError
	if cfg.Node.MaxPayload, err = parseSize(&r.Node.MaxPayload, "node.max_payload"); err != nil {
		return nil, err
	}
	if cfg.Node.MaxDepth, err = parseInt(&r.Node.MaxDepth, "node.max_depth", 1, MaxDepthLimit); err != nil {
		return nil, err
	}
	if cfg.Node.InvocationTimeout, err = parseDuration(&r.Node.InvocationTimeout, "node.invocation_timeout"); err != nil {
		return nil, err
	}
	if cfg.Node.DrainTimeout, err = parseDuration(&r.Node.DrainTimeout, "node.drain_timeout"); err != nil {
		return nil, err
	}
	for i, rf := range r.Functions {
		f := FunctionConfig{Name: rf.Name, Module: rf.Module}
		path := fmt.Sprintf("functions[%d]", i)
		if f.Pool, err = parseInt(&rf.Pool, path+".pool", 1, MaxPool); err != nil {
			return nil, err
		}
		if f.MaxPayload, err = parseSize(&rf.MaxPayload, path+".max_payload"); err != nil {
			return nil, err
		}
		interruptible, err := parseBool(&rf.Interruptible, path+".interruptible", true)
		if err != nil {
			return nil, err
		}
		f.Uninterruptible = !interruptible
		cfg.Functions = append(cfg.Functions, f)
	}
	return cfg, nil
}

func absent(n *yaml.Node) bool {
	return n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

func parseInt(n *yaml.Node, field string, lo, hi int) (int, *ConfigError) {
	if absent(n) {
		return 0, nil
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil {
		return 0, &ConfigError{Field: field, Err: fmt.Errorf("want an integer, got %q (line %d)", n.Value, n.Line)}
	}
	if v < int64(lo) || v > int64(hi) {
		return 0, &ConfigError{Field: field, Err: fmt.Errorf("%d is out of range %d..%d", v, lo, hi)}
	}
	return int(v), nil
}

// parseBool accepts YAML 1.2's true and false only (not yes/no/on/off).
func parseBool(n *yaml.Node, field string, def bool) (bool, *ConfigError) {
	if absent(n) {
		return def, nil
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		switch n.Value {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return false, &ConfigError{Field: field, Err: fmt.Errorf("want true or false, got %q (line %d)", n.Value, n.Line)}
}

func parseDuration(n *yaml.Node, field string) (time.Duration, *ConfigError) {
	if absent(n) {
		return 0, nil
	}
	d, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		return 0, &ConfigError{Field: field, Err: fmt.Errorf("want a duration such as 30s, got %q (line %d)", n.Value, n.Line)}
	}
	if d <= 0 {
		return 0, &ConfigError{Field: field, Err: fmt.Errorf("%s is not positive", n.Value)}
	}
	return d, nil
}

var sizeRE = regexp.MustCompile(`^([0-9]+) ?(B|KiB|MiB|GiB)?$`)

var sizeUnit = map[string]uint64{"": 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}

func parseSize(n *yaml.Node, field string) (uint64, *ConfigError) {
	if absent(n) {
		return 0, nil
	}
	bad := &ConfigError{Field: field, Err: fmt.Errorf("want a size such as 1048576 or 64MiB (suffix B, KiB, MiB or GiB), got %q (line %d)", n.Value, n.Line)}
	m := sizeRE.FindStringSubmatch(n.Value)
	if n.Kind != yaml.ScalarNode || m == nil {
		return 0, bad
	}
	v, err := strconv.ParseUint(m[1], 10, 64)
	unit := sizeUnit[m[2]]
	if err != nil || v > (1<<63)/unit {
		return 0, bad
	}
	size := v * unit
	if size == 0 || size >= MaxPayloadLimit {
		return 0, &ConfigError{Field: field, Err: fmt.Errorf("%s is out of range: a limit is at least 1 B and under 4GiB (ABI lengths are u32)", n.Value)}
	}
	return size, nil
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// check applies defaults to zero fields and validates the configuration.
// Range errors of fields set in YAML are caught while parsing; check catches
// those of a Config built in Go, and the relations between fields.
func (c *Config) check() error {
	bad := func(field, format string, args ...any) error {
		return &ConfigError{File: c.Path, Field: field, Err: fmt.Errorf(format, args...)}
	}
	n := &c.Node
	if n.Name == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "rrnode"
		}
		n.Name = h
	}
	if n.HTTP == "" {
		n.HTTP = DefaultHTTP
	}
	if _, _, err := net.SplitHostPort(n.HTTP); err != nil {
		return bad("node.http", "want host:port: %w", err)
	}
	if n.MaxPayload == 0 {
		n.MaxPayload = DefaultMaxPayload
	}
	if n.MaxPayload >= MaxPayloadLimit {
		return bad("node.max_payload", "%d bytes is not under 4GiB (ABI lengths are u32)", n.MaxPayload)
	}
	if n.MaxDepth == 0 {
		n.MaxDepth = DefaultMaxDepth
	}
	if n.MaxDepth < 1 || n.MaxDepth > MaxDepthLimit {
		return bad("node.max_depth", "%d is out of range 1..%d", n.MaxDepth, MaxDepthLimit)
	}
	if n.InvocationTimeout == 0 {
		n.InvocationTimeout = DefaultInvocationTimeout
	}
	if n.InvocationTimeout < 0 {
		return bad("node.invocation_timeout", "%s is not positive", n.InvocationTimeout)
	}
	if n.DrainTimeout == 0 {
		n.DrainTimeout = DefaultDrainTimeout
	}
	if n.DrainTimeout < 0 {
		return bad("node.drain_timeout", "%s is not positive", n.DrainTimeout)
	}
	if len(c.Functions) == 0 {
		return bad("functions", "no functions: a node needs at least one")
	}
	seen := make(map[string]bool, len(c.Functions))
	for i := range c.Functions {
		f := &c.Functions[i]
		field := fmt.Sprintf("functions[%d]", i)
		if !nameRE.MatchString(f.Name) {
			if f.Name == "" {
				return bad(field+".name", "missing")
			}
			return bad(field+".name", "%q is not a valid name: want 1 to 64 of A-Z a-z 0-9 . _ -", f.Name)
		}
		if seen[f.Name] {
			return bad(field+".name", "duplicate function %q", f.Name)
		}
		seen[f.Name] = true
		if f.Module == "" {
			return bad(field+".module", "missing")
		}
		if st, err := os.Stat(f.Module); err != nil {
			return bad(field+".module", "%w", err)
		} else if !st.Mode().IsRegular() {
			return bad(field+".module", "%s is not a regular file", f.Module)
		}
		if f.Pool == 0 {
			f.Pool = min(goruntime.GOMAXPROCS(0), MaxPool)
		}
		if f.Pool < 1 || f.Pool > MaxPool {
			return bad(field+".pool", "%d is out of range 1..%d", f.Pool, MaxPool)
		}
		if f.MaxPayload == 0 {
			f.MaxPayload = n.MaxPayload
		}
		if f.MaxPayload >= MaxPayloadLimit {
			return bad(field+".max_payload", "%d bytes is not under 4GiB (ABI lengths are u32)", f.MaxPayload)
		}
	}
	return nil
}
