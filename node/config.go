package node

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"reflect"
	"regexp"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/roadrunner-wasm/roadrunner/bpf"
	"github.com/roadrunner-wasm/roadrunner/internal/bytesize"
	"github.com/roadrunner-wasm/roadrunner/internal/ociwasm"
	"github.com/roadrunner-wasm/roadrunner/transport"
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
//	  drain_delay: 5s            # after SIGTERM, serve on (not ready) this long before draining; 0 = none
//	  cache_dir: ""              # compilation cache: "" = default dir, "off" = none
//	  listen:                    # where peer nodes reach this node's functions
//	    unix: a.sock             # "" = no unix listener; relative to the config file's directory
//	    unix_mode: "0600"        # octal permission bits, default 0600
//	    unix_group: ""           # group name or numeric gid; "" = the process's group
//	    unix_allow:              # peer credentials the unix socket accepts, besides its mode
//	      uids: [1000]           # empty = only the socket's mode and group apply
//	      gids: []
//	    tcp: 0.0.0.0:7070        # host:port; "" = no tcp listener
//	    max_conns: 1024          # per listener, 1..65536
//	    max_conns_per_source: 128 # per tcp peer IP, 1..max_conns (unix: not capped)
//	    first_frame_timeout: 10s # a connection's first frame (or HELLO) complete within this of accept
//	  auth:                      # peers prove a shared key on the unix and tcp paths
//	    keys: keys               # one key a line; the first signs, all verify
//	    insecure: false          # true lets a non-loopback tcp bind go without keys or tls
//	  tls:                       # tcp path over mutual TLS: all three or none
//	    cert: node.crt
//	    key: node.key
//	    ca: ca.crt
//	  http_auth:                 # bearer tokens on POST /v1/functions/*
//	    token_file: tokens       # one token a line, each accepted
//	    insecure: false          # true lets a non-loopback node.http go without a token
//	  tcp_send: auto             # auto, write or splice
//	  verify: false              # CRC32C on the frames this node sends
//	  dial_timeout: 5s
//	  io_timeout: 30s            # writes; a frame's header, name and trace whole from its first byte
//	  read_progress_timeout: 5s  # a request body or frame without a byte this long is aborted
//	  sockmap_pin_dir: /sys/fs/bpf/roadrunner # where --accel sockmap pins its map, on bpffs
//	  tracing:                   # OpenTelemetry spans of every hop, over OTLP
//	    otlp_endpoint: ""        # "" = off; http(s)://host:port[/path], grpc://host:port or grpcs://host:port
//	    sample_ratio: 1          # 0..1: the share of traces begun here that are sampled
//	    service_name: rrnode     # the spans' service.name
//	functions:
//	  - name: producer           # [A-Za-z0-9._-]{1,64}, unique
//	    module: producer.wasm    # relative to the config file's directory
//	    pool: 2                  # instances, 1..1024; default GOMAXPROCS
//	    max_payload: 128MiB      # default node.max_payload
//	    max_memory: 512MiB       # the most an instance's memory may grow to; default: the engine's (4GiB)
//	    recycle_memory: 64MiB    # an instance above this when it returns to the pool is replaced
//	    queue: 64                # deliveries waiting for an instance, 0..65536; past it, busy at once
//	    max_per_source: 0        # instances one source may hold at once; 0 = no cap (shared fairly)
//	peers:
//	  - name: b                  # [A-Za-z0-9._-]{1,64}, unique among peers
//	    address: unix://b.sock   # unix:///abs/path, unix://relative/path or tcp://host:port
//	    functions: [transform, consumer] # the functions it hosts; none of them local
//	    max_conns: 16            # connections to it, 1..1024
//	cluster:                     # peers found through DNS (a headless Service)
//	  dns: rrnode-peers.rrnode.svc.cluster.local # "" = no discovery
//	  port: 7070                 # the tcp port of the nodes behind the name
//	  refresh: 5s                # how often the name is resolved again
//	  resolver: ""               # host:port of the DNS server; "" = the system's
//	  max_conns: 16              # connections to each discovered peer, 1..1024
//
// node.route is nearest (default: a local function on the memory path,
// else a replica of this host, else one of another host) or any (every
// replica alike, chosen by load). node.listen.unix may hold {name}, which
// becomes node.name: pods of one host sharing a directory each get a
// socket of their own there.
//
// Sizes are an integer number of bytes or a number with a unit (64MiB,
// 500MB), as docs/CONFIG.md#sizes says.
// File paths (modules, sockets, keys, tokens, certificates) are relative to
// the config file's directory.
//
// A configuration is safe by default: a tcp listener or an HTTP ingress
// bound to an address that is not loopback needs authentication
// (node.auth.keys or node.tls; node.http_auth.token_file), or an explicit
// insecure: true, which [Config.Insecure] reports.
type Config struct {
	// Path is the file the configuration was read from; errors name it.
	Path      string
	Node      NodeConfig
	Functions []FunctionConfig
	// Peers are the other nodes this node sends to: a send to one of a
	// peer's functions travels on the peer's path (unix or tcp).
	Peers []PeerConfig
	// Cluster finds more peers, and what they host, through DNS.
	Cluster ClusterConfig
}

// ClusterConfig is the cluster section: peers discovered through a DNS
// name that resolves to every node (a Kubernetes headless Service), each of
// which says in its HELLO which functions it hosts. DNS == "" turns
// discovery off; the other fields then keep their zero values.
type ClusterConfig struct {
	DNS      string        // the name; "" = no discovery
	Port     int           // the tcp port of the nodes behind it; default: DefaultClusterPort
	Refresh  time.Duration // how often DNS is resolved again; default: DefaultClusterRefresh
	Resolver string        // host:port of the DNS server to ask; "" = the system's resolver
	MaxConns int           // connections to each discovered peer; default: DefaultPeerConns
}

// Routes of node.route.
const (
	RouteNearest = "nearest" // local, else this host's replicas, else other hosts'
	RouteAny     = "any"     // every replica alike
)

// NodeConfig is the node section. Zero fields take their defaults.
type NodeConfig struct {
	Name              string        // default: the hostname
	HTTP              string        // default: DefaultHTTP
	MaxPayload        uint64        // bytes; default: DefaultMaxPayload
	MaxDepth          int           // default: DefaultMaxDepth
	InvocationTimeout time.Duration // default: DefaultInvocationTimeout
	DrainTimeout      time.Duration // default: DefaultDrainTimeout
	CacheDir          string        // "" = the engine's default directory, CacheOff = no disk cache
	Listen            ListenConfig
	TCPSend           transport.Mechanism // tcp send mechanism: transport.MechanismAuto (default), MechanismWrite or MechanismSplice
	Verify            bool                // CRC32C on every DATA frame this node sends
	DialTimeout       time.Duration       // connecting to a peer; default: DefaultDialTimeout
	// IOTimeout bounds a write (an ACK, a REPLY) and the arrival of a
	// frame's header, name and trace context from the header's first
	// byte; default: DefaultIOTimeout.
	IOTimeout time.Duration
	// ReadProgressTimeout is how long a request body or a frame that has
	// begun (header, name, payload) may go without a byte arriving: past
	// it the transfer is aborted (HTTP 408; the connection closed on the
	// unix and tcp paths), its instance released at once. Default:
	// DefaultReadProgressTimeout.
	ReadProgressTimeout time.Duration
	// DrainDelay is how long rrnode start keeps serving everything after
	// SIGTERM, readiness already off (Node.StopReady), before it drains:
	// the time endpoints need to stop routing to the node. 0 means the
	// default, DefaultDrainDelay; NoDrainDelay means none (drain at once).
	// In YAML, drain_delay: 0 (or 0s) is NoDrainDelay, an absent field the
	// default.
	DrainDelay time.Duration
	// SockmapPinDir is the bpffs directory of the host's shared sockmap
	// (--accel sockmap); "" = bpf.DefaultPinDir. Nodes that should
	// redirect to each other must use the same one.
	SockmapPinDir string
	Auth          AuthConfig     // node.auth: the key peers prove on the unix and tcp paths
	HTTPAuth      HTTPAuthConfig // node.http_auth: the bearer tokens of the HTTP ingress
	TLS           TLSConfig      // node.tls: the tcp path over mutual TLS
	// Route is how a send picks among the nodes that host its target:
	// RouteNearest (default) or RouteAny.
	Route string
	// Tracing is node.tracing: OpenTelemetry spans of every hop, exported
	// over OTLP; off unless OTLPEndpoint is set.
	Tracing TracingConfig
	// Registry is node.registry: how modules named oci://… are pulled.
	Registry RegistryConfig
}

// RegistryConfig is node.registry: the settings of the OCI registries that
// functions' modules (module: oci://REGISTRY/REPOSITORY:TAG or @sha256:…)
// are pulled from (docs/REGISTRY.md). Paths are resolved like
// AuthConfig.Keys. A reload applies them to the pulls it makes.
type RegistryConfig struct {
	// AuthFile is a Docker config.json (the format of a Kubernetes
	// imagePullSecret) with the registries' credentials; "" = anonymous.
	AuthFile string
	// PlainHTTP lists the registries (host:port, as references name
	// them) spoken to over plain HTTP; every other one over HTTPS.
	PlainHTTP []string
	// CAFile holds the PEM CA certificates HTTPS registries are checked
	// against; "" = the system's.
	CAFile string
	// CacheDir is where pulled modules are kept, by digest: a module
	// pinned by digest and found there is not pulled again, so the node
	// starts when its registry is down. "" = the "modules" directory
	// beside node.cache_dir's compilation cache (none if that is off).
	CacheDir string
}

// AuthConfig is node.auth: how peers on the unix and tcp paths prove that
// they may send to this node.
type AuthConfig struct {
	// Keys is the file of shared keys, one a line (32 random bytes in hex
	// or base64): the first signs, every one verifies, so that a key can
	// be rotated without a flag day. "" = none. LoadConfig resolves a
	// relative path against the config file's directory, New one set in
	// Go against the working directory.
	Keys string
	// Insecure allows a tcp listener on an address that is not loopback
	// without Keys or TLS: anyone who can reach it can run this node's
	// functions. For a network you trust; [Config.Insecure] warns of it.
	Insecure bool
}

// HTTPAuthConfig is node.http_auth: the bearer tokens the HTTP ingress
// asks of POST /v1/functions/*.
type HTTPAuthConfig struct {
	// TokenFile holds the accepted tokens, one a line, each at least
	// MinTokenLen characters; "" = no token asked. Resolved like
	// AuthConfig.Keys; New reads it.
	TokenFile string
	// Insecure allows node.http on an address that is not loopback
	// without TokenFile. For a network you trust; [Config.Insecure] warns
	// of it.
	Insecure bool
}

// TLSConfig is node.tls: the tcp path over TLS with client certificates,
// which authenticates peers as node.auth does. All three files or none;
// paths are resolved like AuthConfig.Keys.
type TLSConfig struct {
	Cert string // this node's certificate chain, PEM
	Key  string // its private key, PEM
	CA   string // the CA certificates that peers' certificates must chain to, PEM
}

// UnixAllow is node.listen.unix_allow: the peer credentials (SO_PEERCRED)
// the unix listener accepts on top of the socket's mode. A peer is
// accepted if its uid is in UIDs or its gid is in GIDs; both empty = only
// the socket's mode and group apply.
type UnixAllow struct {
	UIDs []uint32
	GIDs []uint32
}

// ListenConfig is node.listen: the sockets peer nodes connect to. Neither
// listener is opened unless its address is set.
type ListenConfig struct {
	// Unix is the unix path's socket file; "" = none. LoadConfig resolves
	// a relative path against the config file's directory; New resolves
	// one set in Go against the working directory.
	Unix      string
	UnixMode  fs.FileMode // permission bits of the socket; default: DefaultUnixMode
	UnixGroup string      // group name or numeric gid of the socket; "" = the process's group
	// UnixGID is UnixGroup resolved, -1 when it is empty. LoadConfig and
	// New set it from UnixGroup; a value set by the caller is overwritten.
	UnixGID   int
	UnixAllow UnixAllow // peer credentials the unix listener accepts
	TCP       string    // host:port of the tcp path; "" = none; port 0 picks a free one
	MaxConns  int       // connections per listener; default: DefaultListenConns
	// MaxConnsPerSource is the most connections one source (a peer's IP
	// address) may hold on the tcp listener; default:
	// DefaultConnsPerSource, at most MaxConns. The unix listener does not
	// cap its sources (processes, or uids: the nodes of a host may be one).
	// A full listener of either path makes room for a lighter source by
	// closing an idle connection of the heaviest.
	MaxConnsPerSource int
	// FirstFrameTimeout closes a connection that has not completed its
	// first frame (or HELLO) this long after accept; default:
	// DefaultFirstFrameTimeout.
	FirstFrameTimeout time.Duration
}

// PeerConfig is one entry of the peers section: another node, and the
// functions it hosts.
type PeerConfig struct {
	Name string // [A-Za-z0-9._-]{1,64}, unique among peers; in logs and metrics
	// Address is "unix:///absolute/path" or "tcp://host:port". LoadConfig
	// resolves a relative unix path ("unix://b.sock") against the config
	// file's directory; New resolves one set in Go against the working
	// directory.
	Address   string
	Functions []string // at least one; none of them a local function or another peer's
	MaxConns  int      // connections to the peer; default: DefaultPeerConns
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
	// SharedMemory is `shared_memory: true`: the function's memories lie
	// in one sealed memfd that a node of this host, authenticated and
	// with --accel shm, may map and copy payloads straight into (the shm
	// path; runtime.FunctionSpec.SharedMemory). That node's process can
	// then read and write all of the function's memory: docs/SECURITY.md.
	SharedMemory bool
	// MaxMemory is the most bytes an instance's linear memory may grow to
	// (the engine's memory limit, rounded down to 64 KiB pages); 0 = the
	// engine's own (4 GiB). MaxPayload must be under it.
	MaxMemory uint64
	// RecycleMemory: an instance whose memory is above this many bytes
	// when it returns to the pool (after any delivery, a failed or
	// aborted one included) is closed and replaced by a fresh one, so
	// that memory a large or hostile payload made a guest grow comes
	// back. Default: DefaultRecycleMemory.
	RecycleMemory uint64
	// Queue is how many deliveries may wait for an instance when all are
	// busy; one more is refused at once with busy (or takes the place of
	// the newest waiter of the source with the most waiting). 0 = the
	// default, DefaultQueue; NoQueue = none (busy at once). In YAML,
	// queue: 0 is NoQueue.
	Queue int
	// MaxPerSource caps the instances one source (an HTTP client's
	// address, a peer node's) holds at once; 0 = no cap. Without it a
	// source alone may use every instance, and a freed instance goes to
	// the waiting source that holds the fewest.
	MaxPerSource int
}

// NoQueue is FunctionConfig.Queue's "none": a delivery that finds every
// instance busy is refused at once.
const NoQueue = -1

// Defaults and limits of a Config.
const (
	DefaultHTTP              = "127.0.0.1:8080"
	DefaultMaxPayload        = 256 << 20
	DefaultMaxDepth          = 16
	DefaultInvocationTimeout = 60 * time.Second
	DefaultDrainTimeout      = 30 * time.Second
	DefaultDrainDelay        = 5 * time.Second
	CacheOff                 = "off"

	DefaultListenConns                     = 1024
	DefaultPeerConns                       = 16
	DefaultDialTimeout                     = 5 * time.Second
	DefaultIOTimeout                       = 30 * time.Second
	DefaultReadProgressTimeout             = 5 * time.Second
	DefaultConnsPerSource                  = 128
	DefaultFirstFrameTimeout               = 10 * time.Second
	DefaultRecycleMemory                   = 64 << 20
	DefaultQueue                           = 64
	MaxQueue                               = 65536
	DefaultUnixMode            fs.FileMode = 0o600

	DefaultClusterPort    = 7070
	DefaultClusterRefresh = 5 * time.Second
	// MinClusterRefresh is the shortest cluster.refresh: DNS is not a
	// heartbeat.
	MinClusterRefresh = 100 * time.Millisecond

	MaxPool        = 1024
	MaxDepthLimit  = 1024
	MaxListenConns = 65536
	MaxPeerConns   = 1024
	// MaxPayloadLimit is one more than the largest max_payload: ABI lengths are u32.
	MaxPayloadLimit = 1 << 32
	// MinTokenLen is the shortest token node.http_auth.token_file may
	// hold: 16 characters are 96 bits of a random base64 token.
	MinTokenLen = 16
)

// maxUnixPath is the longest unix socket path: sun_path holds 108 bytes
// with the terminating NUL.
const maxUnixPath = 107

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
// paths, unix socket paths and the files of node.auth, node.http_auth and
// node.tls are resolved against the file's directory, and each file must
// exist.
func LoadConfig(file string) (*Config, error) {
	cfg, _, err := ReadConfig(file)
	return cfg, err
}

// ReadConfig is LoadConfig that also returns the bytes it read, whether
// they parse or not (nil if the file could not be read): what a program
// that watches the file compares.
func ReadConfig(file string) (*Config, []byte, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the message names the file already
		}
		return nil, nil, &ConfigError{File: file, Err: err}
	}
	cfg, err := ParseConfig(data, file)
	return cfg, data, err
}

// ParseConfig validates the YAML configuration data as if read from file
// (which names it in errors and anchors relative module and socket paths; ""
// means the current directory). Unknown fields are errors.
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
		if m := cfg.Functions[i].Module; m != "" && !ociwasm.IsReference(m) && !filepath.IsAbs(m) {
			cfg.Functions[i].Module = filepath.Join(dir, m)
		}
	}
	for _, p := range []*string{&cfg.Node.Listen.Unix, &cfg.Node.Auth.Keys, &cfg.Node.HTTPAuth.TokenFile, &cfg.Node.TLS.Cert, &cfg.Node.TLS.Key, &cfg.Node.TLS.CA, &cfg.Node.Registry.AuthFile, &cfg.Node.Registry.CAFile, &cfg.Node.Registry.CacheDir} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	for i := range cfg.Peers {
		if p, ok := strings.CutPrefix(cfg.Peers[i].Address, unixScheme); ok && p != "" && !filepath.IsAbs(p) {
			cfg.Peers[i].Address = unixScheme + filepath.Join(dir, p)
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
	Peers     []rawPeer     `yaml:"peers"`
	Cluster   rawCluster    `yaml:"cluster"`
}

type rawCluster struct {
	DNS      string    `yaml:"dns"`
	Port     yaml.Node `yaml:"port"`
	Refresh  yaml.Node `yaml:"refresh"`
	Resolver string    `yaml:"resolver"`
	MaxConns yaml.Node `yaml:"max_conns"`
}

type rawNode struct {
	Name                string      `yaml:"name"`
	HTTP                string      `yaml:"http"`
	MaxPayload          yaml.Node   `yaml:"max_payload"`
	MaxDepth            yaml.Node   `yaml:"max_depth"`
	InvocationTimeout   yaml.Node   `yaml:"invocation_timeout"`
	DrainTimeout        yaml.Node   `yaml:"drain_timeout"`
	DrainDelay          yaml.Node   `yaml:"drain_delay"`
	CacheDir            string      `yaml:"cache_dir"`
	Listen              rawListen   `yaml:"listen"`
	TCPSend             yaml.Node   `yaml:"tcp_send"`
	Verify              yaml.Node   `yaml:"verify"`
	DialTimeout         yaml.Node   `yaml:"dial_timeout"`
	IOTimeout           yaml.Node   `yaml:"io_timeout"`
	ReadProgressTimeout yaml.Node   `yaml:"read_progress_timeout"`
	SockmapPinDir       string      `yaml:"sockmap_pin_dir"`
	Auth                rawAuth     `yaml:"auth"`
	HTTPAuth            rawHTTPAuth `yaml:"http_auth"`
	TLS                 rawTLS      `yaml:"tls"`
	Route               string      `yaml:"route"`
	Tracing             rawTracing  `yaml:"tracing"`
	Registry            rawRegistry `yaml:"registry"`
}

type rawRegistry struct {
	AuthFile  string   `yaml:"auth_file"`
	PlainHTTP []string `yaml:"plain_http"`
	CAFile    string   `yaml:"ca_file"`
	CacheDir  string   `yaml:"cache_dir"`
}

type rawListen struct {
	Unix              string       `yaml:"unix"`
	UnixMode          yaml.Node    `yaml:"unix_mode"`
	UnixGroup         string       `yaml:"unix_group"`
	UnixAllow         rawUnixAllow `yaml:"unix_allow"`
	TCP               string       `yaml:"tcp"`
	MaxConns          yaml.Node    `yaml:"max_conns"`
	MaxConnsPerSource yaml.Node    `yaml:"max_conns_per_source"`
	FirstFrameTimeout yaml.Node    `yaml:"first_frame_timeout"`
}

type rawUnixAllow struct {
	UIDs []yaml.Node `yaml:"uids"`
	GIDs []yaml.Node `yaml:"gids"`
}

type rawAuth struct {
	Keys     string    `yaml:"keys"`
	Insecure yaml.Node `yaml:"insecure"`
}

type rawHTTPAuth struct {
	TokenFile string    `yaml:"token_file"`
	Insecure  yaml.Node `yaml:"insecure"`
}

type rawTLS struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	CA   string `yaml:"ca"`
}

type rawPeer struct {
	Name      string    `yaml:"name"`
	Address   string    `yaml:"address"`
	Functions []string  `yaml:"functions"`
	MaxConns  yaml.Node `yaml:"max_conns"`
}

type rawFunction struct {
	Name          string    `yaml:"name"`
	Module        string    `yaml:"module"`
	Pool          yaml.Node `yaml:"pool"`
	MaxPayload    yaml.Node `yaml:"max_payload"`
	Interruptible yaml.Node `yaml:"interruptible"`
	SharedMemory  yaml.Node `yaml:"shared_memory"`
	MaxMemory     yaml.Node `yaml:"max_memory"`
	RecycleMemory yaml.Node `yaml:"recycle_memory"`
	Queue         yaml.Node `yaml:"queue"`
	MaxPerSource  yaml.Node `yaml:"max_per_source"`
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
		Listen: ListenConfig{
			Unix:      r.Node.Listen.Unix,
			UnixGroup: r.Node.Listen.UnixGroup,
			TCP:       r.Node.Listen.TCP,
		},
		SockmapPinDir: r.Node.SockmapPinDir,
		Auth:          AuthConfig{Keys: r.Node.Auth.Keys},
		HTTPAuth:      HTTPAuthConfig{TokenFile: r.Node.HTTPAuth.TokenFile},
		TLS:           TLSConfig{Cert: r.Node.TLS.Cert, Key: r.Node.TLS.Key, CA: r.Node.TLS.CA},
		Route:         r.Node.Route,
		Registry: RegistryConfig{
			AuthFile:  r.Node.Registry.AuthFile,
			PlainHTTP: r.Node.Registry.PlainHTTP,
			CAFile:    r.Node.Registry.CAFile,
			CacheDir:  r.Node.Registry.CacheDir,
		},
	},
		Cluster: ClusterConfig{DNS: r.Cluster.DNS, Resolver: r.Cluster.Resolver},
	}
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
	if cfg.Node.DrainDelay, err = parseDrainDelay(&r.Node.DrainDelay); err != nil {
		return nil, err
	}
	if cfg.Node.Listen.UnixMode, err = parseMode(&r.Node.Listen.UnixMode, "node.listen.unix_mode"); err != nil {
		return nil, err
	}
	if cfg.Node.Listen.MaxConns, err = parseInt(&r.Node.Listen.MaxConns, "node.listen.max_conns", 1, MaxListenConns); err != nil {
		return nil, err
	}
	if cfg.Node.TCPSend, err = parseMechanism(&r.Node.TCPSend, "node.tcp_send"); err != nil {
		return nil, err
	}
	if cfg.Node.Verify, err = parseBool(&r.Node.Verify, "node.verify", false); err != nil {
		return nil, err
	}
	if cfg.Node.DialTimeout, err = parseDuration(&r.Node.DialTimeout, "node.dial_timeout"); err != nil {
		return nil, err
	}
	if cfg.Node.IOTimeout, err = parseDuration(&r.Node.IOTimeout, "node.io_timeout"); err != nil {
		return nil, err
	}
	if cfg.Node.ReadProgressTimeout, err = parseDuration(&r.Node.ReadProgressTimeout, "node.read_progress_timeout"); err != nil {
		return nil, err
	}
	if cfg.Node.Listen.MaxConnsPerSource, err = parseInt(&r.Node.Listen.MaxConnsPerSource, "node.listen.max_conns_per_source", 1, MaxListenConns); err != nil {
		return nil, err
	}
	if cfg.Node.Listen.FirstFrameTimeout, err = parseDuration(&r.Node.Listen.FirstFrameTimeout, "node.listen.first_frame_timeout"); err != nil {
		return nil, err
	}
	if cfg.Node.Listen.UnixAllow.UIDs, err = parseIDs(r.Node.Listen.UnixAllow.UIDs, "node.listen.unix_allow.uids"); err != nil {
		return nil, err
	}
	if cfg.Node.Listen.UnixAllow.GIDs, err = parseIDs(r.Node.Listen.UnixAllow.GIDs, "node.listen.unix_allow.gids"); err != nil {
		return nil, err
	}
	if cfg.Node.Auth.Insecure, err = parseBool(&r.Node.Auth.Insecure, "node.auth.insecure", false); err != nil {
		return nil, err
	}
	if cfg.Node.HTTPAuth.Insecure, err = parseBool(&r.Node.HTTPAuth.Insecure, "node.http_auth.insecure", false); err != nil {
		return nil, err
	}
	if cfg.Node.Tracing, err = r.Node.Tracing.config(); err != nil {
		return nil, err
	}
	if cfg.Cluster.Port, err = parseInt(&r.Cluster.Port, "cluster.port", 1, 65535); err != nil {
		return nil, err
	}
	if cfg.Cluster.Refresh, err = parseDuration(&r.Cluster.Refresh, "cluster.refresh"); err != nil {
		return nil, err
	}
	if cfg.Cluster.MaxConns, err = parseInt(&r.Cluster.MaxConns, "cluster.max_conns", 1, MaxPeerConns); err != nil {
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
		if f.SharedMemory, err = parseBool(&rf.SharedMemory, path+".shared_memory", false); err != nil {
			return nil, err
		}
		if f.MaxMemory, err = parseMemory(&rf.MaxMemory, path+".max_memory"); err != nil {
			return nil, err
		}
		if f.RecycleMemory, err = parseMemory(&rf.RecycleMemory, path+".recycle_memory"); err != nil {
			return nil, err
		}
		if f.Queue, err = parseInt(&rf.Queue, path+".queue", 0, MaxQueue); err != nil {
			return nil, err
		}
		if f.Queue == 0 && !absent(&rf.Queue) {
			f.Queue = NoQueue
		}
		if f.MaxPerSource, err = parseInt(&rf.MaxPerSource, path+".max_per_source", 0, MaxPool); err != nil {
			return nil, err
		}
		cfg.Functions = append(cfg.Functions, f)
	}
	for i, rp := range r.Peers {
		p := PeerConfig{Name: rp.Name, Address: rp.Address, Functions: rp.Functions}
		if p.MaxConns, err = parseInt(&rp.MaxConns, fmt.Sprintf("peers[%d].max_conns", i), 1, MaxPeerConns); err != nil {
			return nil, err
		}
		cfg.Peers = append(cfg.Peers, p)
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

// maxID is the largest uid or gid: (uid_t)-1 means "no change" to the
// kernel, never a credential.
const maxID = 1<<32 - 2

// parseIDs parses a list of uids or gids, each an integer 0..maxID.
func parseIDs(list []yaml.Node, field string) ([]uint32, *ConfigError) {
	var ids []uint32
	for i := range list {
		n := &list[i]
		f := fmt.Sprintf("%s[%d]", field, i)
		v, err := strconv.ParseUint(n.Value, 10, 64)
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil || v > maxID {
			return nil, &ConfigError{Field: f, Err: fmt.Errorf("want an integer 0..%d, got %q (line %d)", maxID, n.Value, n.Line)}
		}
		ids = append(ids, uint32(v))
	}
	return ids, nil
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

// parseMechanism parses a tcp send mechanism with transport.ParseMechanism.
func parseMechanism(n *yaml.Node, field string) (transport.Mechanism, *ConfigError) {
	if absent(n) {
		return transport.MechanismAuto, nil
	}
	if n.Kind == yaml.ScalarNode {
		if m, err := transport.ParseMechanism(n.Value); err == nil {
			return m, nil
		}
	}
	return 0, &ConfigError{Field: field, Err: fmt.Errorf("%q: want auto, write or splice (line %d)", n.Value, n.Line)}
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

// NoDrainDelay is NodeConfig.DrainDelay's "none": drain at once on
// SIGTERM.
const NoDrainDelay time.Duration = -1

// parseDrainDelay reads node.drain_delay: a duration, 0 meaning none
// (NoDrainDelay); absent, 0 (the default).
func parseDrainDelay(n *yaml.Node) (time.Duration, *ConfigError) {
	const field = "node.drain_delay"
	if absent(n) {
		return 0, nil
	}
	d, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		return 0, &ConfigError{Field: field, Err: fmt.Errorf("want a duration such as 5s, or 0 for none, got %q (line %d)", n.Value, n.Line)}
	}
	switch {
	case d < 0:
		return 0, &ConfigError{Field: field, Err: fmt.Errorf("%s is negative", n.Value)}
	case d == 0:
		return NoDrainDelay, nil
	}
	return d, nil
}

var modeRE = regexp.MustCompile(`^[0-7]{1,4}$`)

// parseMode reads a file mode written in octal digits, quoted or not
// ("0600", 660): a plain 0600 is an integer to YAML, but its digits are
// what the user means.
func parseMode(n *yaml.Node, field string) (fs.FileMode, *ConfigError) {
	if absent(n) {
		return 0, nil
	}
	if n.Kind != yaml.ScalarNode || !modeRE.MatchString(n.Value) {
		return 0, &ConfigError{Field: field, Err: fmt.Errorf("want octal permission bits such as \"0600\", got %q (line %d)", n.Value, n.Line)}
	}
	m, _ := strconv.ParseUint(n.Value, 8, 32)
	if m == 0 || m > uint64(fs.ModePerm) {
		return 0, &ConfigError{Field: field, Err: fmt.Errorf("%s is out of range 0001..0777 (permission bits)", n.Value)}
	}
	return fs.FileMode(m), nil
}

func parseSize(n *yaml.Node, field string) (uint64, *ConfigError) {
	return parseSizeIn(n, field, 1, MaxPayloadLimit-1, "a limit is at least 1 B and under 4GiB (ABI lengths are u32)")
}

// parseSizeIn parses a size in [lo, hi]; outside, the error says why.
func parseSizeIn(n *yaml.Node, field string, lo, hi uint64, why string) (uint64, *ConfigError) {
	if absent(n) {
		return 0, nil
	}
	if n.Kind != yaml.ScalarNode {
		return 0, &ConfigError{Field: field, Err: fmt.Errorf("a list or mapping (line %d); want a size: %s (%s)", n.Line, bytesize.Grammar, bytesize.Doc)}
	}
	v, err := bytesize.Parse(n.Value)
	if err != nil {
		return 0, &ConfigError{Field: field, Err: fmt.Errorf("%w (line %d); want a size: %s (%s)", err, n.Line, bytesize.Grammar, bytesize.Doc)}
	}
	if v < 0 || uint64(v) < lo || uint64(v) > hi {
		return 0, &ConfigError{Field: field, Err: fmt.Errorf("%s is out of range: %s", n.Value, why)}
	}
	return uint64(v), nil
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// check applies defaults to zero fields and validates the configuration.
// Range errors of fields set in YAML are caught while parsing; check catches
// those of a Config built in Go, and the relations between fields.
func (c *Config) check() error {
	bad := c.bad
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
	if err := defaultDuration(&n.InvocationTimeout, DefaultInvocationTimeout, "node.invocation_timeout", bad); err != nil {
		return err
	}
	if err := defaultDuration(&n.DrainTimeout, DefaultDrainTimeout, "node.drain_timeout", bad); err != nil {
		return err
	}
	if n.DrainDelay == 0 {
		n.DrainDelay = DefaultDrainDelay
	}
	if n.DrainDelay < 0 && n.DrainDelay != NoDrainDelay {
		return bad("node.drain_delay", "%s is negative (NoDrainDelay means none)", n.DrainDelay)
	}
	n.Listen.Unix = strings.ReplaceAll(n.Listen.Unix, "{name}", n.Name)
	if err := c.checkTransport(); err != nil {
		return err
	}
	if err := c.checkAuth(); err != nil {
		return err
	}
	if n.SockmapPinDir == "" {
		n.SockmapPinDir = bpf.DefaultPinDir
	}
	if !filepath.IsAbs(n.SockmapPinDir) {
		return bad("node.sockmap_pin_dir", "%q: want an absolute path (on bpffs, e.g. %s)", n.SockmapPinDir, bpf.DefaultPinDir)
	}
	n.SockmapPinDir = filepath.Clean(n.SockmapPinDir)
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
		switch {
		case f.Module == "":
			return bad(field+".module", "missing")
		case ociwasm.IsReference(f.Module):
			if _, err := ociwasm.ParseReference(f.Module); err != nil {
				return bad(field+".module", "%w", err)
			}
		default:
			if st, err := os.Stat(f.Module); err != nil {
				return bad(field+".module", "%w", err)
			} else if !st.Mode().IsRegular() {
				return bad(field+".module", "%s is not a regular file", f.Module)
			}
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
		if err := f.checkLimits(field, bad); err != nil {
			return err
		}
	}
	if err := c.checkPeers(); err != nil {
		return err
	}
	if err := c.checkTracing(); err != nil {
		return err
	}
	if err := c.checkRegistry(); err != nil {
		return err
	}
	return c.checkCluster()
}

// checkCluster applies the defaults of node.route and the cluster section
// and validates them.
func (c *Config) checkCluster() error {
	bad := c.bad
	n := &c.Node
	switch n.Route {
	case "":
		n.Route = RouteNearest
	case RouteNearest, RouteAny:
	default:
		return bad("node.route", "%q: want nearest or any", n.Route)
	}
	cl := &c.Cluster
	if cl.DNS == "" {
		if *cl != (ClusterConfig{}) {
			return bad("cluster.dns", "missing: cluster.port, refresh, resolver and max_conns apply to the nodes a DNS name finds")
		}
		return nil
	}
	if _, ok := dnsName(cl.DNS); !ok {
		return bad("cluster.dns", "%q is not a DNS name", cl.DNS)
	}
	if cl.Port == 0 {
		cl.Port = DefaultClusterPort
	}
	if cl.Port < 1 || cl.Port > 65535 {
		return bad("cluster.port", "%d is out of range 1..65535", cl.Port)
	}
	if err := defaultDuration(&cl.Refresh, DefaultClusterRefresh, "cluster.refresh", bad); err != nil {
		return err
	}
	if cl.Refresh < MinClusterRefresh {
		return bad("cluster.refresh", "%s is under %s", cl.Refresh, MinClusterRefresh)
	}
	if cl.Resolver != "" {
		if _, err := hostPort(cl.Resolver, 1); err != nil {
			return bad("cluster.resolver", "%w", err)
		}
	}
	if cl.MaxConns == 0 {
		cl.MaxConns = DefaultPeerConns
	}
	if cl.MaxConns < 1 || cl.MaxConns > MaxPeerConns {
		return bad("cluster.max_conns", "%d is out of range 1..%d", cl.MaxConns, MaxPeerConns)
	}
	return nil
}

// dnsName returns name without a trailing dot if it is a DNS name: labels
// of 1 to 63 letters, digits and hyphens (not at either end), 253 bytes in
// all.
func dnsName(name string) (string, bool) {
	name = strings.TrimSuffix(name, ".")
	if name == "" || len(name) > 253 {
		return "", false
	}
	for _, l := range strings.Split(name, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return "", false
		}
		for _, r := range l {
			if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_') {
				return "", false
			}
		}
	}
	return name, true
}

// checkTransport applies the defaults of the node's transport fields and
// validates them.
func (c *Config) checkTransport() error {
	bad := c.bad
	n := &c.Node
	l := &n.Listen
	if l.Unix != "" {
		p, err := unixPath(l.Unix)
		if err != nil {
			return bad("node.listen.unix", "%w", err)
		}
		l.Unix = p
	}
	if l.UnixMode == 0 {
		l.UnixMode = DefaultUnixMode
	}
	if l.UnixMode&^fs.ModePerm != 0 {
		return bad("node.listen.unix_mode", "%v: want permission bits only (0001..0777)", l.UnixMode)
	}
	gid, err := lookupGroup(l.UnixGroup)
	if err != nil {
		return bad("node.listen.unix_group", "%w", err)
	}
	l.UnixGID = gid
	if l.TCP != "" {
		if _, err := hostPort(l.TCP, 0); err != nil {
			return bad("node.listen.tcp", "%w", err)
		}
	}
	if l.MaxConns == 0 {
		l.MaxConns = DefaultListenConns
	}
	if l.MaxConns < 1 || l.MaxConns > MaxListenConns {
		return bad("node.listen.max_conns", "%d is out of range 1..%d", l.MaxConns, MaxListenConns)
	}
	switch n.TCPSend {
	case transport.MechanismAuto, transport.MechanismWrite, transport.MechanismSplice:
	default:
		return bad("node.tcp_send", "%v: want auto, write or splice", n.TCPSend)
	}
	if err := defaultDuration(&n.DialTimeout, DefaultDialTimeout, "node.dial_timeout", bad); err != nil {
		return err
	}
	if err := defaultDuration(&n.IOTimeout, DefaultIOTimeout, "node.io_timeout", bad); err != nil {
		return err
	}
	if err := defaultDuration(&n.ReadProgressTimeout, DefaultReadProgressTimeout, "node.read_progress_timeout", bad); err != nil {
		return err
	}
	if err := defaultDuration(&l.FirstFrameTimeout, DefaultFirstFrameTimeout, "node.listen.first_frame_timeout", bad); err != nil {
		return err
	}
	if l.MaxConnsPerSource == 0 {
		l.MaxConnsPerSource = min(DefaultConnsPerSource, l.MaxConns)
	}
	if l.MaxConnsPerSource < 1 || l.MaxConnsPerSource > l.MaxConns {
		return bad("node.listen.max_conns_per_source", "%d is out of range 1..%d (node.listen.max_conns)", l.MaxConnsPerSource, l.MaxConns)
	}
	return nil
}

// MaxMemoryLimit is the most a function's max_memory may be: 65536 pages
// of 64 KiB, what a 32-bit memory addresses.
const MaxMemoryLimit = 1 << 32

// wasmPage is the size of a WebAssembly memory page.
const wasmPage = 64 << 10

// checkLimits applies the defaults of a function's memory and admission
// fields and checks them against each other: a payload must fit in the
// guest's memory with room to spare.
func (f *FunctionConfig) checkLimits(field string, bad func(field, format string, args ...any) error) error {
	if f.MaxMemory != 0 {
		if f.MaxMemory < wasmPage || f.MaxMemory > MaxMemoryLimit {
			return bad(field+".max_memory", "%d bytes is out of range 64KiB..4GiB", f.MaxMemory)
		}
		if f.MaxPayload >= f.MaxMemory {
			return bad(field+".max_payload", "%s is not under max_memory %s: a payload must fit in the guest's memory beside the guest's own data; lower max_payload (node.max_payload is its default) or raise max_memory",
				bytesize.Format(int64(f.MaxPayload)), bytesize.Format(int64(f.MaxMemory)))
		}
	}
	if f.RecycleMemory == 0 {
		f.RecycleMemory = DefaultRecycleMemory
	}
	if f.Queue == 0 {
		f.Queue = DefaultQueue
	}
	if f.Queue != NoQueue && (f.Queue < 0 || f.Queue > MaxQueue) {
		return bad(field+".queue", "%d is out of range 0..%d", f.Queue, MaxQueue)
	}
	if f.MaxPerSource < 0 || f.MaxPerSource > f.Pool {
		return bad(field+".max_per_source", "%d is out of range 0..%d (the pool)", f.MaxPerSource, f.Pool)
	}
	return nil
}

// parseMemory parses a memory size: like a payload size, but 64KiB (a
// page) to 4GiB (a whole 32-bit memory).
func parseMemory(n *yaml.Node, field string) (uint64, *ConfigError) {
	return parseSizeIn(n, field, wasmPage, MaxMemoryLimit, "want 64KiB..4GiB")
}

// checkAuth validates the authentication fields, and refuses what would
// expose the node without authentication: a tcp listener or an HTTP
// ingress on an address that is not loopback, unless the field's insecure
// says so. It runs after the listeners' addresses are checked.
func (c *Config) checkAuth() error {
	bad := c.bad
	n := &c.Node
	allow := &n.Listen.UnixAllow
	// New copies the Config but not these arrays: keep the caller's apart.
	allow.UIDs, allow.GIDs = slices.Clone(allow.UIDs), slices.Clone(allow.GIDs)
	for _, ids := range []struct {
		field string
		list  []uint32
	}{{"node.listen.unix_allow.uids", allow.UIDs}, {"node.listen.unix_allow.gids", allow.GIDs}} {
		for i, id := range ids.list {
			if id > maxID {
				return bad(fmt.Sprintf("%s[%d]", ids.field, i), "%d is out of range 0..%d", id, maxID)
			}
		}
	}
	tls := n.TLS != TLSConfig{}
	if tls {
		for _, f := range []struct{ name, path string }{{"cert", n.TLS.Cert}, {"key", n.TLS.Key}, {"ca", n.TLS.CA}} {
			if f.path == "" {
				return bad("node.tls."+f.name, "missing: node.tls needs cert, key and ca, or none of them")
			}
		}
	}
	for _, f := range []struct {
		field string
		path  *string
		make  string // how to make a missing one
	}{
		{"node.auth.keys", &n.Auth.Keys, "make it with `(umask 077; rrnode keygen > %s)` and give every node of the cluster the same file"},
		{"node.http_auth.token_file", &n.HTTPAuth.TokenFile, "make it with `(umask 077; rrnode keygen > %s)` and give its line to the HTTP clients"},
		{"node.tls.cert", &n.TLS.Cert, ""},
		{"node.tls.key", &n.TLS.Key, ""},
		{"node.tls.ca", &n.TLS.CA, ""},
	} {
		if *f.path == "" {
			continue
		}
		p, err := regularFile(*f.path)
		if errors.Is(err, fs.ErrNotExist) && f.make != "" {
			return bad(f.field, "%w: "+f.make, err, *f.path)
		}
		if err != nil {
			return bad(f.field, "%w", err)
		}
		*f.path = p
	}
	openTCP, openHTTP := n.unauthenticated()
	if openTCP && !n.Auth.Insecure {
		return bad("node.listen.tcp", "%s is not a loopback address, and neither node.auth.keys nor node.tls is set: "+
			"anyone who can reach it can write into this node's guests and run its functions; "+
			"run `rrnode keygen > keys` and set node.auth.keys: keys (the same keys on every node), "+
			"or set node.tls, or set node.auth.insecure: true on a network you trust", n.Listen.TCP)
	}
	if openHTTP && !n.HTTPAuth.Insecure {
		return bad("node.http", "%s is not a loopback address, and node.http_auth.token_file is not set: "+
			"anyone who can reach it can run this node's functions; "+
			"put a token of at least %d characters in a file (`rrnode keygen > token` makes one) and set node.http_auth.token_file, "+
			"or set node.http_auth.insecure: true on a network you trust", n.HTTP, MinTokenLen)
	}
	return nil
}

// Insecure returns a warning for each exposure without authentication
// that the configuration allows with insecure: true (a tcp listener or an
// HTTP ingress on an address that is not loopback, without keys, TLS or
// tokens), or nil. New logs each one at every start. Call it on a checked
// Config: one from LoadConfig, or Node.Config.
func (c *Config) Insecure() []string {
	var warnings []string
	n := &c.Node
	openTCP, openHTTP := n.unauthenticated()
	if openTCP && n.Auth.Insecure {
		warnings = append(warnings, fmt.Sprintf("node.listen.tcp %s is not loopback and peers are not authenticated (node.auth.insecure: true): "+
			"anyone who can reach it can write into this node's guests and run its functions", n.Listen.TCP))
	}
	if openHTTP && n.HTTPAuth.Insecure {
		warnings = append(warnings, fmt.Sprintf("node.http %s is not loopback and asks no token (node.http_auth.insecure: true): "+
			"anyone who can reach it can run this node's functions", n.HTTP))
	}
	return warnings
}

// unauthenticated reports which of the node's listeners bind beyond
// loopback without authentication: the tcp path without keys or TLS, the
// HTTP ingress without tokens. check refuses them unless insecure is set;
// Insecure warns of them when it is.
func (n *NodeConfig) unauthenticated() (tcp, http bool) {
	tcp = n.Listen.TCP != "" && !isLoopback(n.Listen.TCP) && n.Auth.Keys == "" && n.TLS == (TLSConfig{})
	http = n.HTTP != "" && !isLoopback(n.HTTP) && n.HTTPAuth.TokenFile == ""
	return tcp, http
}

// isLoopback reports whether the host of addr (host:port) is "localhost"
// or a loopback IP (127.0.0.0/8, ::1). An empty host, 0.0.0.0 and :: bind
// every interface; any other name may resolve anywhere.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// regularFile returns path made absolute (against the working directory)
// if it names a regular file.
func regularFile(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", abs)
	}
	return abs, nil
}

// checkPeers applies the peers' defaults, resolves their addresses and
// validates them against each other and the local functions.
func (c *Config) checkPeers() error {
	bad := c.bad
	// New copies the Config but not the Peers' array: defaults must not
	// write into the caller's.
	c.Peers = slices.Clone(c.Peers)
	local := make(map[string]int, len(c.Functions))
	for i, f := range c.Functions {
		local[f.Name] = i
	}
	type place struct{ peer, fn int }
	remote := map[string]place{}
	names := map[string]int{}
	for i := range c.Peers {
		p := &c.Peers[i]
		field := fmt.Sprintf("peers[%d]", i)
		if !nameRE.MatchString(p.Name) {
			if p.Name == "" {
				return bad(field+".name", "missing")
			}
			return bad(field+".name", "%q is not a valid name: want 1 to 64 of A-Z a-z 0-9 . _ -", p.Name)
		}
		if j, dup := names[p.Name]; dup {
			return bad(field+".name", "duplicate peer %q (also peers[%d])", p.Name, j)
		}
		names[p.Name] = i
		addr, err := peerAddress(p.Address)
		if err != nil {
			return bad(field+".address", "%w", err)
		}
		p.Address = addr
		if own := c.Node.Listen.Unix; own != "" && addr == unixScheme+own {
			return bad(field+".address", "%s is node.listen.unix, this node's own socket", addr)
		}
		if len(p.Functions) == 0 {
			return bad(field+".functions", "no functions: a peer hosts at least one")
		}
		for j, fn := range p.Functions {
			ffield := fmt.Sprintf("%s.functions[%d]", field, j)
			if !nameRE.MatchString(fn) {
				return bad(ffield, "%q is not a valid name: want 1 to 64 of A-Z a-z 0-9 . _ -", fn)
			}
			if k, ok := local[fn]; ok {
				return bad(ffield, "%q is also a local function (functions[%d]): a function is either local or on one peer", fn, k)
			}
			// A function on several peers has replicas: a send picks
			// one (node.route).
			if at, ok := remote[fn]; ok && at.peer == i {
				return bad(ffield, "duplicate function %q (also %s.functions[%d])", fn, field, at.fn)
			}
			remote[fn] = place{i, j}
		}
		if p.MaxConns == 0 {
			p.MaxConns = DefaultPeerConns
		}
		if p.MaxConns < 1 || p.MaxConns > MaxPeerConns {
			return bad(field+".max_conns", "%d is out of range 1..%d", p.MaxConns, MaxPeerConns)
		}
	}
	return nil
}

const (
	unixScheme = "unix://"
	tcpScheme  = "tcp://"
)

// peerAddress validates a peer's address and returns it with a relative
// unix path made absolute against the working directory.
func peerAddress(address string) (string, error) {
	if address == "" {
		return "", errors.New("missing")
	}
	if p, ok := strings.CutPrefix(address, unixScheme); ok {
		if p == "" {
			return "", fmt.Errorf("%q has no path: want unix:///absolute/path or unix://relative/path", address)
		}
		abs, err := unixPath(p)
		if err != nil {
			return "", err
		}
		address = unixScheme + abs
		// The transport reads the address as a URL: a path with ?, # or
		// %xx would name another socket there.
		if _, got, err := transport.ParseAddress(address); err != nil || got != abs {
			return "", fmt.Errorf("%q: a unix path in an address cannot hold ?, # or %%", address)
		}
		return address, nil
	}
	if hp, ok := strings.CutPrefix(address, tcpScheme); ok {
		host, err := hostPort(hp, 1)
		if err != nil {
			return "", fmt.Errorf("%q: %w", address, err)
		}
		if host == "" {
			return "", fmt.Errorf("%q has no host: want tcp://host:port", address)
		}
		if _, _, err := transport.ParseAddress(address); err != nil {
			return "", err
		}
		return address, nil
	}
	return "", fmt.Errorf("%q: want unix:///absolute/path, unix://relative/path or tcp://host:port", address)
}

// unixPath returns path made absolute (against the working directory) and
// checks that it fits a socket address.
func unixPath(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	if len(abs) > maxUnixPath {
		return "", fmt.Errorf("%s is %d bytes long: a unix socket path has at most %d", abs, len(abs), maxUnixPath)
	}
	return abs, nil
}

// hostPort splits a host:port address whose port is a number from minPort
// to 65535, and returns the host.
func hostPort(addr string, minPort int) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("want host:port: %w", err)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < minPort || n > 65535 {
		return "", fmt.Errorf("port %q: want a number, %d..65535", port, minPort)
	}
	return host, nil
}

// lookupGroup resolves a group name or numeric gid; "" is -1, the
// process's group.
func lookupGroup(group string) (int, error) {
	if group == "" {
		return -1, nil
	}
	if strings.Trim(group, "0123456789") == "" {
		gid, err := strconv.ParseUint(group, 10, 32)
		if err != nil || gid == 1<<32-1 {
			return 0, fmt.Errorf("gid %s is out of range 0..%d", group, uint32(1<<32-2))
		}
		return int(gid), nil
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		return 0, err
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return 0, fmt.Errorf("group %s has gid %q, not a number", group, g.Gid)
	}
	return gid, nil
}

// bad returns the ConfigError of field, naming the config's file.
func (c *Config) bad(field, format string, args ...any) error {
	return &ConfigError{File: c.Path, Field: field, Err: fmt.Errorf(format, args...)}
}

// defaultDuration sets *d to def if it is zero, and refuses a negative one
// (possible only in a config built in Go: YAML durations are checked when
// parsed).
func defaultDuration(d *time.Duration, def time.Duration, field string, bad func(field, format string, args ...any) error) error {
	if *d == 0 {
		*d = def
	}
	if *d < 0 {
		return bad(field, "%s is not positive", *d)
	}
	return nil
}

// TracingConfig is node.tracing: one OpenTelemetry span per hop (the
// ingress, every send, every arrival from a peer) and per transfer, exported
// over OTLP with W3C trace context (docs/CONFIG.md "Tracing").
type TracingConfig struct {
	// OTLPEndpoint is the collector spans are exported to; "" = tracing
	// off (the default). http://host:port[/path] or https://… is
	// OTLP/HTTP with protobuf bodies, to path or, without one, /v1/traces;
	// grpc://host:port is OTLP/gRPC in plaintext, grpcs://host:port over
	// TLS (the system's roots). The exporter's OTEL_EXPORTER_OTLP_*
	// environment variables (headers, timeout, certificates) apply to
	// what this does not set.
	OTLPEndpoint string
	// SampleRatio is the share of the traces begun at this node (a request
	// without a traceparent) that are sampled, 0 to 1; a traceparent's
	// own decision, or a peer's, is kept. Nil means DefaultSampleRatio.
	SampleRatio *float64
	// ServiceName is the spans' service.name; "" means DefaultServiceName.
	// New applies both defaults; the Config keeps what it was given.
	ServiceName string
}

// Defaults of node.tracing.
const (
	DefaultSampleRatio = 1.0
	DefaultServiceName = "rrnode"
)

type rawTracing struct {
	OTLPEndpoint string    `yaml:"otlp_endpoint"`
	SampleRatio  yaml.Node `yaml:"sample_ratio"`
	ServiceName  string    `yaml:"service_name"`
}

func (r *rawTracing) config() (TracingConfig, *ConfigError) {
	t := TracingConfig{OTLPEndpoint: r.OTLPEndpoint, ServiceName: r.ServiceName}
	if n := &r.SampleRatio; !absent(n) {
		v, err := strconv.ParseFloat(n.Value, 64)
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!float" && n.Tag != "!!int") || err != nil {
			return t, &ConfigError{Field: "node.tracing.sample_ratio", Err: fmt.Errorf("want a number from 0 to 1 such as 0.01, got %q (line %d)", n.Value, n.Line)}
		}
		t.SampleRatio = &v
	}
	return t, nil
}

// checkTracing validates node.tracing. Its defaults (DefaultSampleRatio,
// DefaultServiceName) are applied where the tracer is made, so that a
// config without the section keeps its zero value.
func (c *Config) checkTracing() error {
	t := &c.Node.Tracing
	if p := t.SampleRatio; p != nil && !(*p >= 0 && *p <= 1) { // NaN too
		return c.bad("node.tracing.sample_ratio", "%v is out of range 0..1", *p)
	}
	if t.OTLPEndpoint == "" {
		return nil
	}
	if _, err := parseOTLPEndpoint(t.OTLPEndpoint); err != nil {
		return c.bad("node.tracing.otlp_endpoint", "%w", err)
	}
	return nil
}

// checkRegistry checks node.registry: its files exist, its plain_http
// entries are host:port.
func (c *Config) checkRegistry() error {
	r := &c.Node.Registry
	for _, f := range []struct{ field, path string }{{"node.registry.auth_file", r.AuthFile}, {"node.registry.ca_file", r.CAFile}} {
		if f.path == "" {
			continue
		}
		if _, err := regularFile(f.path); err != nil {
			return c.bad(f.field, "%w", err)
		}
	}
	for i, h := range r.PlainHTTP {
		if _, _, err := net.SplitHostPort(h); err != nil || strings.Contains(h, "/") {
			return c.bad(fmt.Sprintf("node.registry.plain_http[%d]", i), "%q: want host:port, as a module reference names the registry", h)
		}
	}
	return nil
}
