package transport

// Reasons a connection fails authentication, as [Refusal].Auth, an
// [AuthError] and node's rr_auth_failures_total spell them. A refusal for
// any of them has the Reason [RefusedAuth].
//
// AuthPeerCred is the unix path's check of the connecting process's
// credentials ([ServerOptions].UnixAllow), made before anything is read;
// the others are failures of the HELLO that proves a peer holds a key.
const (
	AuthNoHello        = "no_hello"        // the connection did not begin with an authenticating HELLO
	AuthBadMAC         = "bad_mac"         // the peer's proof verifies under none of the keys
	AuthUnknownVersion = "unknown_version" // a HELLO of an authentication version this end does not speak
	AuthTimeout        = "timeout"         // the HELLO exchange did not finish within Auth.Timeout
	AuthMalformed      = "malformed"       // a HELLO that is cut short, too large, or lacks what it must carry
	AuthPeerCred       = "peer_cred"       // a unix peer whose uid and gid are not in ServerOptions.UnixAllow
)
