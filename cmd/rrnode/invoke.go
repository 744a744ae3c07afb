package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/roadrunner-wasm/roadrunner/node"
)

type invokeFlags struct {
	data      string
	addr      string
	trace     bool
	tokenFile string
}

// tokenEnv names the environment variable invoke reads a bearer token
// from when --token-file is not given.
const tokenEnv = "RRNODE_TOKEN"

// DefaultAddr is where invoke finds a node unless --addr says otherwise.
const DefaultAddr = "http://" + node.DefaultHTTP

func newInvokeCmd(std stdio) *cobra.Command {
	var f invokeFlags
	c := &cobra.Command{
		Use:   "invoke NAME",
		Short: "Invoke a function through a node's HTTP ingress and print its reply",
		Long: `Invoke a function through a node's HTTP ingress: POST the payload to
/v1/functions/NAME and write the reply body to standard output. Exit 1 with
the node's error if the invocation failed, before or after its reply.`,
		Args: exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return runInvoke(c.Context(), args[0], f, std)
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.data, "data", "", "the payload: @FILE for a file's content, - for standard input, or the TEXT itself (default: empty)")
	fl.StringVar(&f.addr, "addr", DefaultAddr, "the node's ingress `URL`")
	fl.BoolVar(&f.trace, "trace", false, "print the invocation's hops to standard error, one per line")
	fl.StringVar(&f.tokenFile, "token-file", "", "send the first token of `FILE` (a node.http_auth.token_file) as the bearer token (default: $"+tokenEnv+", if set)")
	return c
}

// payload opens the --data argument: a body and its length (the ingress
// requires a Content-Length).
func payload(data string, stdin io.Reader) (body io.ReadCloser, size int64, err error) {
	switch {
	case data == "":
		return http.NoBody, 0, nil
	case data == "-":
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, 0, fmt.Errorf("--data -: read standard input: %w", err)
		}
		return io.NopCloser(bytes.NewReader(b)), int64(len(b)), nil
	case strings.HasPrefix(data, "@"):
		name := data[1:]
		if name == "" {
			return nil, 0, usageError{errors.New("--data @: want @FILE")}
		}
		f, err := os.Open(name)
		if err != nil {
			return nil, 0, fmt.Errorf("--data: %w", err)
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, 0, fmt.Errorf("--data: %w", err)
		}
		if !st.Mode().IsRegular() {
			f.Close()
			return nil, 0, fmt.Errorf("--data: %s is not a regular file (use - to read a stream from standard input)", name)
		}
		return f, st.Size(), nil
	default:
		return io.NopCloser(strings.NewReader(data)), int64(len(data)), nil
	}
}

// bearerToken is the first non-blank line of file, or $RRNODE_TOKEN when
// file is "".
func bearerToken(file string) (string, error) {
	if file == "" {
		return strings.TrimSpace(os.Getenv(tokenEnv)), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	for l := range strings.Lines(string(b)) {
		if t := strings.TrimSpace(l); t != "" {
			return t, nil
		}
	}
	return "", fmt.Errorf("--token-file %s: no token in it", file)
}

// setBearer puts the bearer token of tokenFile (or $RRNODE_TOKEN) in
// req's Authorization header, if there is one.
func setBearer(req *http.Request, tokenFile string) error {
	token, err := bearerToken(tokenFile)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return nil
}

func runInvoke(ctx context.Context, name string, f invokeFlags, std stdio) error {
	base, err := url.Parse(f.addr)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return usageError{fmt.Errorf("--addr %q: want a URL such as %s", f.addr, DefaultAddr)}
	}
	body, size, err := payload(f.data, std.in)
	if err != nil {
		return err
	}
	defer body.Close()
	target := base.JoinPath("v1", "functions", name)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), body)
	if err != nil {
		return fmt.Errorf("invoke %s: %w", name, err)
	}
	req.ContentLength = size
	if size == 0 {
		req.Body = http.NoBody
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	if err := setBearer(req, f.tokenFile); err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("invoke %s: %w", name, err)
	}
	defer resp.Body.Close()

	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if f.trace {
			printTrace(std.err, resp.Header.Get(node.HeaderTrace))
		}
		var e node.ErrorBody
		if json.Unmarshal(msg, &e) == nil && e.Error != "" {
			return fmt.Errorf("invoke %s: %s: %s (%s)", name, resp.Status, e.Error, e.Label)
		}
		return fmt.Errorf("invoke %s: %s: %s", name, resp.Status, strings.TrimSpace(string(msg)))
	}
	if _, err := io.Copy(std.out, resp.Body); err != nil {
		return fmt.Errorf("invoke %s: read reply: %w", name, err)
	}
	trace := resp.Header.Get(node.HeaderTrace)
	if trace == "" {
		trace = resp.Trailer.Get(node.HeaderTrace)
	}
	if f.trace {
		printTrace(std.err, trace)
	}
	if e := resp.Trailer.Get(node.HeaderError); e != "" {
		return fmt.Errorf("invoke %s: failed after its reply: %s", name, e)
	}
	return nil
}

// printTrace writes one line per hop of an Rr-Trace value.
func printTrace(w io.Writer, s string) {
	if s == "" {
		return
	}
	var tr node.Trace
	if err := json.Unmarshal([]byte(s), &tr); err != nil {
		fmt.Fprintf(w, "trace: %s (%v)\n", s, err)
		return
	}
	for _, h := range tr {
		fmt.Fprintf(w, "hop %s -> %s path=%s bytes=%d transfer=%v total=%v result=%s\n",
			h.From, h.To, h.Path, h.Bytes, time.Duration(h.TransferNS), time.Duration(h.TotalNS), h.Result)
	}
}
