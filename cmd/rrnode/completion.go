package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/roadrunner-wasm/roadrunner/internal/bench"
	"github.com/roadrunner-wasm/roadrunner/node"
)

// Completion of flag values and arguments, for the scripts of rrnode
// completion (cobra's). Each list is the values the flag's parser accepts
// (completion_test.go checks that they parse).

var (
	accelSingles = []string{"auto", "none"}              // alone only
	accelList    = []string{"iouring", "sockmap", "shm"} // a comma-separated list
	tcpSends     = []string{"auto", "write", "splice"}
	logFormats   = []string{"text", "json"}
	logLevels    = []string{"debug", "info", "warn", "error"}
)

// completeFunctionsTimeout bounds the query of invoke NAME's completion: a
// shell waits for it at every tab.
const completeFunctionsTimeout = 2 * time.Second

// registerStartCompletions completes the values of rrnode start's flags.
func registerStartCompletions(c *cobra.Command) {
	c.RegisterFlagCompletionFunc("accel", completeAccel)
	c.RegisterFlagCompletionFunc("engine", completeEngine)
	c.RegisterFlagCompletionFunc("tcp-send", fixed(tcpSends))
	c.RegisterFlagCompletionFunc("log-format", fixed(logFormats))
	c.RegisterFlagCompletionFunc("log-level", fixed(logLevels))
	c.MarkFlagFilename("config", "yaml", "yml")
}

// registerBenchCompletions completes the values of rrnode bench's flags.
func registerBenchCompletions(c *cobra.Command) {
	c.RegisterFlagCompletionFunc("engine", completeEngine)
	c.RegisterFlagCompletionFunc("paths", func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return completeList(toComplete, []string{"all"}, bench.AllPaths)
	})
	c.MarkFlagDirname("out")
	c.MarkFlagDirname("wasm-dir")
}

func fixed(values []string) cobra.CompletionFunc {
	return cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp)
}

func completeEngine(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
	names := make([]string, len(engines))
	for i, e := range engines {
		names[i] = e.name
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

func completeAccel(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return completeList(toComplete, accelSingles, accelList)
}

// completeList completes a comma-separated list of items, each at most
// once, or one of singles alone: after "a,b," it offers "a,b,c" for each
// item c not yet in the list. The shell adds no space after a list, which
// may go on.
func completeList(toComplete string, singles, items []string) ([]cobra.Completion, cobra.ShellCompDirective) {
	done, _, more := cutLast(toComplete, ",")
	var out []cobra.Completion
	if !more {
		done = ""
		out = append(out, singles...)
	}
	have := strings.Split(done, ",")
	if more && slices.ContainsFunc(have, func(h string) bool { return slices.Contains(singles, h) }) {
		return nil, cobra.ShellCompDirectiveNoFileComp // auto, none: alone
	}
	for _, it := range items {
		if more && slices.Contains(have, it) {
			continue
		}
		if more {
			out = append(out, done+","+it)
		} else {
			out = append(out, it)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}

// cutLast cuts s around the last sep: before, after, found.
func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

// completeFunctions are the functions that start with prefix among those
// the node at addr and its peers host (GET /v1/cluster, with the bearer
// token of tokenFile or $RRNODE_TOKEN). Nothing if the node does not
// answer within completeFunctionsTimeout, or refuses.
func completeFunctions(ctx context.Context, addr, tokenFile, prefix string) []cobra.Completion {
	if ctx == nil {
		ctx = context.Background()
	}
	base, err := url.Parse(addr)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, completeFunctionsTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base.JoinPath("v1", "cluster").String(), nil)
	if err != nil {
		return nil
	}
	if setBearer(req, tokenFile) != nil {
		return nil
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var v node.ClusterView
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&v) != nil {
		return nil
	}
	names := slices.Clone(v.Functions)
	for _, p := range v.Peers {
		names = append(names, p.Functions...)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	return slices.DeleteFunc(names, func(n string) bool { return !strings.HasPrefix(n, prefix) })
}
