// Package testdns is a real DNS server for tests: an authoritative server on
// a loopback address, answering over UDP and TCP on one port, whose A and
// AAAA records a test sets and replaces while it runs.
//
// It exists so that code which resolves names (a client following a
// headless Service, a dialer that re-resolves on failure) can be tested
// against the real wire protocol and Go's own resolver, not a stub. Point a
// [net.Resolver] at it with PreferGo and a Dial that ignores the address it
// is given and dials [Server.Addr]; see the package's tests.
//
// The server answers the way resolvers need to be tested against:
//
//   - a name never [Server.Set] is NXDOMAIN; a name set with no addresses,
//     and a known name asked for a type other than A or AAAA, is NOERROR
//     with no records;
//   - every answer is authoritative and has a TTL of one second, so nothing
//     that caches holds a record for long;
//   - answers over UDP are truncated to 512 bytes, or to the size the
//     query's EDNS(0) record offers, with the TC bit set, so a large record
//     set makes the resolver ask again over TCP;
//   - [Server.Stop] closes its sockets (queries are refused or time out) and
//     [Server.Resume] serves again on the same address, to test a DNS server
//     that goes down and comes back.
//
// [Server.Queries] counts the queries answered per name, so a test can tell
// whether a resolver asked again. A Server is safe for concurrent use.
package testdns
