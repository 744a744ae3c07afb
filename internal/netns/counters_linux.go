package netns

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Counters are a namespace's TCP segments sent (Tcp: OutSegs of
// /proc/net/snmp, counted per segment on the wire, GSO or not) and the
// bytes its interfaces other than lo sent (/proc/net/dev): what a test
// compares before and after a transfer to see whether the payload went
// through TCP and over a link.
type Counters struct {
	TCPOutSegs uint64
	TxBytes    uint64
}

// Counters reads the namespace's counters, on a thread inside it
// (/proc/thread-self/net is the thread's namespace's).
func (ns *NS) Counters() (Counters, error) {
	var c Counters
	err := ns.Do(func() error {
		var err error
		c, err = readCounters()
		return err
	})
	return c, err
}

func readCounters() (Counters, error) {
	var c Counters
	snmp, err := os.ReadFile("/proc/thread-self/net/snmp")
	if err != nil {
		return c, fmt.Errorf("netns: %w", err)
	}
	var names []string
	found := false
	for _, line := range strings.Split(string(snmp), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "Tcp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, n := range names {
			if n == "OutSegs" && i < len(f) {
				if c.TCPOutSegs, err = strconv.ParseUint(f[i], 10, 64); err != nil {
					return c, fmt.Errorf("netns: /proc/net/snmp OutSegs: %w", err)
				}
				found = true
			}
		}
	}
	if !found {
		return c, fmt.Errorf("netns: /proc/net/snmp has no Tcp OutSegs")
	}
	dev, err := os.ReadFile("/proc/thread-self/net/dev")
	if err != nil {
		return c, fmt.Errorf("netns: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(dev))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		f := strings.Fields(rest)
		// Receive has 8 columns, then transmit bytes.
		if !ok || strings.TrimSpace(name) == "lo" || len(f) < 9 {
			continue
		}
		n, err := strconv.ParseUint(f[8], 10, 64)
		if err != nil {
			continue // the two header lines
		}
		c.TxBytes += n
	}
	return c, sc.Err()
}
