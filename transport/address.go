package transport

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
)

// ParseAddress splits a peer address, "unix:///absolute/path" or
// "tcp://host:port", into its path (PathUnix or PathTCP) and the socket
// path or host:port.
func ParseAddress(address string) (path Path, addr string, err error) {
	u, err := url.Parse(address)
	if err != nil {
		return 0, "", fmt.Errorf("peer address %q: %w", address, err)
	}
	switch u.Scheme {
	case "unix":
		if u.Host != "" || u.Path == "" || u.Path[0] != '/' {
			return 0, "", fmt.Errorf("peer address %q: want unix:///absolute/path", address)
		}
		return PathUnix, u.Path, nil
	case "tcp":
		host, port, err := net.SplitHostPort(u.Host)
		if err != nil || u.Path != "" || port == "" || port == "0" {
			return 0, "", fmt.Errorf("peer address %q: want tcp://host:port", address)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return 0, "", fmt.Errorf("peer address %q: bad port", address)
		}
		return PathTCP, net.JoinHostPort(host, port), nil
	}
	return 0, "", fmt.Errorf("peer address %q: want unix:///path or tcp://host:port", address)
}
