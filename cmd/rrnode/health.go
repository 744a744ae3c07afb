package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// newHealthCmd is rrnode health: a container's HEALTHCHECK in an image
// with nothing but rrnode in it (no curl, no shell).
func newHealthCmd(std stdio) *cobra.Command {
	var addr string
	var ready bool
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "health",
		Short: "Check a node's /healthz (or /readyz): exit 0 if it answers 200, 1 otherwise",
		Long: `Check that a node is up: GET /healthz at the node's ingress and exit 0 if
it answers 200 within --timeout, 1 otherwise, saying why on standard error.
/healthz is liveness: 200 from the moment the ingress listens (module
compilation included) as long as the process serves, draining included.
With --ready, GET /readyz instead: 200 only once the functions are loaded and
the listeners served, 503 "starting" before and "draining" from SIGTERM on.
The container image's HEALTHCHECK runs it.`,
		Args: exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			path := "/healthz"
			if ready {
				path = "/readyz"
			}
			return runHealth(c.Context(), strings.TrimSuffix(addr, "/")+path, timeout, std)
		},
	}
	c.Flags().StringVar(&addr, "addr", DefaultAddr, "the node's ingress `URL`")
	c.Flags().BoolVar(&ready, "ready", false, "check readiness (/readyz) instead of liveness (/healthz)")
	c.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "how long to wait for the answer")
	return c
}

func runHealth(ctx context.Context, url string, timeout time.Duration, std stdio) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health: %s answered %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	fmt.Fprintf(std.out, "%s: %s\n", url, strings.TrimSpace(string(body)))
	return nil
}
