package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/roadrunner-wasm/roadrunner/node"
)

type clusterFlags struct {
	addr      string
	output    *output
	tokenFile string
	timeout   time.Duration
}

// newClusterCmd is rrnode cluster: a node's directory, from GET /v1/cluster.
func newClusterCmd(std stdio) *cobra.Command {
	var f clusterFlags
	c := &cobra.Command{
		Use:   "cluster",
		Short: "Show a node's directory: its peers, their state and path, and what they host",
		Long: `Show a node's directory, from GET /v1/cluster at its ingress: the node
itself, what its cluster DNS name resolved to, and each peer it knows (static
or found through DNS) with its state (connecting, up, down, self), the path
transfers to it take (unix on this host when its socket is reachable, else
tcp), its functions, the transfers in flight to it and its last error.
-o json prints the node's answer as it is: one JSON object

    {"node", "instance", "host", "generation", "functions", "route", "dns",
     "peers": [{"name", "address", "state", "path", "functions", ...}]}`,
		Args: exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			return runCluster(c.Context(), f, std)
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.addr, "addr", DefaultAddr, "the node's ingress `URL`")
	fl.StringVar(&f.tokenFile, "token-file", "", "send the first token of `FILE` as the bearer token (default: $"+tokenEnv+", if set)")
	fl.DurationVar(&f.timeout, "timeout", 10*time.Second, "how long to wait for the answer")
	f.output = addOutputFlag(c, "table", "json")
	return c
}

func runCluster(ctx context.Context, f clusterFlags, std stdio) error {
	base, err := url.Parse(f.addr)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return usageError{fmt.Errorf("--addr %q: want a URL such as %s", f.addr, DefaultAddr)}
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	target := base.JoinPath("v1", "cluster")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
	if err != nil {
		return err
	}
	if err := setBearer(req, f.tokenFile); err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("cluster: read %s: %w", target, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return fmt.Errorf("cluster: %s answered %s: %s", target, resp.Status, e.Error)
		}
		return fmt.Errorf("cluster: %s answered %s: %s", target, resp.Status, strings.TrimSpace(string(body)))
	}
	var v node.ClusterView
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("cluster: %s: not a directory: %w", target, err)
	}
	if f.output.value == "json" {
		_, err := std.out.Write(body)
		return err
	}
	return printCluster(std.out, &v)
}

// printCluster prints the directory as a table, the node itself first.
func printCluster(w io.Writer, v *node.ClusterView) error {
	fmt.Fprintf(w, "node %s  instance %s  route %s  generation %d  functions %s\n", v.Node, short(v.Instance), v.Route, v.Generation, list(v.Functions))
	if d := v.DNS; d != nil {
		line := fmt.Sprintf("dns %s: %d addresses", d.Name, len(d.Addresses))
		if !d.LastOK.IsZero() {
			line += ", resolved " + d.LastOK.Format(time.RFC3339)
		}
		if d.LastError != "" {
			line += fmt.Sprintf(", %d failures, last at %s: %s", d.Failures, d.ErrorAt.Format(time.RFC3339), d.LastError)
		}
		fmt.Fprintln(w, line)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tADDRESS\tSTATE\tPATH\tHOST\tFUNCTIONS\tIN FLIGHT\tLAST ERROR")
	for _, p := range v.Peers {
		host := "other"
		switch {
		case p.SameHost:
			host = "same"
		case p.Host == "":
			host = "-"
		}
		name := p.Name
		if name == "" {
			name = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, p.Address, p.State, p.Path, host, list(p.Functions), strconv.FormatInt(p.InFlight, 10), p.LastError)
	}
	return tw.Flush()
}

func list(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ",")
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
