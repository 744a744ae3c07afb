package transport

// Reasons a connection fails authentication, as [Refusal].Auth and node's
// rr_auth_failures_total spell them. A refusal for any of them has the
// Reason [RefusedAuth].
//
// AuthPeerCred is the unix path's check of the connecting process's
// credentials ([ServerOptions].UnixAllow), made before anything is read;
// the others are failures of the HELLO that proves a peer holds the key.
const (
	AuthNoHello        = "no_hello"        // the first frame was not a HELLO
	AuthBadMAC         = "bad_mac"         // the HELLO's MAC does not prove the key
	AuthUnknownVersion = "unknown_version" // a HELLO of a version this node does not speak
	AuthTimeout        = "timeout"         // no whole HELLO within the time allowed
	AuthMalformed      = "malformed"       // a HELLO that cannot be decoded
	AuthPeerCred       = "peer_cred"       // a unix peer whose uid and gid UnixAllow does not list
)
