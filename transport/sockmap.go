package transport

// Reasons a tcp connection to a node on this host does not use the
// sockmap, besides the errno of this process's own refusal (as
// [features.Reason] spells it): reported to OnFallback for every transfer
// over it.
const (
	SockmapPeerOff      = "peer_off"       // the peer node has no sockmap on
	SockmapOtherMap     = "other_map"      // the peer uses another SOCKHASH (another pin directory)
	SockmapPeerRefused  = "peer_refused"   // the peer could not put its socket in the map
	SockmapPeerNotFound = "peer_not_found" // the peer's socket is not in the map under the reversed tuple (NAT, a proxy)
)

// SockmapOptions configure [OpenSockmap]; nil means the defaults.
type SockmapOptions struct {
	// PinDir is the bpffs directory of the host's map; "" means
	// bpf.DefaultPinDir. Processes redirect to each other only if they
	// use the same one.
	PinDir string
	// Opportunistic uses the map where it can and reports nothing where
	// it cannot (--accel auto): a connection to this host that does not
	// use it is not reported to OnFallback.
	Opportunistic bool
}
