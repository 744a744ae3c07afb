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
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/roadrunner-wasm/roadrunner/node"
)

type invokeFlags struct {
	data      string
	addr      string
	trace     bool
	tokenFile string
	output    *output
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
/v1/functions/NAME and write the reply body to standard output, byte for
byte. Exit 1 with the node's error if the invocation failed, before or
after its reply.

-o json prints one JSON object instead, also when the invocation failed
(the exit status is 1 then too); keys without a value are left out:

    {"function": NAME, "status": the HTTP status code,
     "reply": the reply as a string, if it is valid UTF-8,
     "reply_base64": else the reply in standard base64,
     "trace": the hops of the Rr-Trace header or trailer, as the node sent them,
     "error": a failed invocation's error body, as the node sent it,
     "error_after_reply": a failure after the reply (the Rr-Error trailer)}

-o json holds the whole reply in memory; the default output streams it.

NAME completes (rrnode completion) with the functions the node at --addr
and its peers host, from GET /v1/cluster.`,
		Args: exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return runInvoke(c.Context(), args[0], f, std)
		},
		ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return completeFunctions(c.Context(), f.addr, f.tokenFile, toComplete), cobra.ShellCompDirectiveNoFileComp
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.data, "data", "", "the payload: @FILE for a file's content, - for standard input, or the TEXT itself (default: empty)")
	fl.StringVar(&f.addr, "addr", DefaultAddr, "the node's ingress `URL`")
	fl.BoolVar(&f.trace, "trace", false, "print the invocation's hops to standard error, one per line")
	fl.StringVar(&f.tokenFile, "token-file", "", "send the first token of `FILE` (a node.http_auth.token_file) as the bearer token (default: $"+tokenEnv+", if set)")
	f.output = addOutputFlag(c, "raw", "json")
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
	if f.output.value == "json" {
		return invokeJSON(name, resp, f, std)
	}

	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if f.trace {
			printTrace(std.err, resp.Header.Get(node.HeaderTrace))
		}
		return invokeError(name, resp.Status, msg)
	}
	if _, err := io.Copy(std.out, resp.Body); err != nil {
		return fmt.Errorf("invoke %s: read reply: %w", name, err)
	}
	if f.trace {
		printTrace(std.err, replyTrace(resp))
	}
	if e := resp.Trailer.Get(node.HeaderError); e != "" {
		return fmt.Errorf("invoke %s: failed after its reply: %s", name, e)
	}
	return nil
}

// invokeError is the error of an invocation the node refused or that
// failed before its reply: the node's error body, msg.
func invokeError(name, status string, msg []byte) error {
	var e node.ErrorBody
	if json.Unmarshal(msg, &e) == nil && e.Error != "" {
		return fmt.Errorf("invoke %s: %s: %s (%s)", name, status, e.Error, e.Label)
	}
	return fmt.Errorf("invoke %s: %s: %s", name, status, strings.TrimSpace(string(msg)))
}

// replyTrace is the Rr-Trace of a reply: its header, or its trailer once
// the body is read.
func replyTrace(resp *http.Response) string {
	if t := resp.Header.Get(node.HeaderTrace); t != "" {
		return t
	}
	return resp.Trailer.Get(node.HeaderTrace)
}

// invokeReport is rrnode invoke -o json. Trace and Error are what the node
// sent, unchanged when they are JSON (a string when not).
type invokeReport struct {
	Function        string          `json:"function"`
	Status          int             `json:"status"`
	Reply           *string         `json:"reply,omitempty"`
	ReplyBase64     []byte          `json:"reply_base64,omitempty"`
	Trace           json.RawMessage `json:"trace,omitempty"`
	Error           json.RawMessage `json:"error,omitempty"`
	ErrorAfterReply string          `json:"error_after_reply,omitempty"`
}

// invokeJSON prints resp as one JSON object; its error is the invocation's
// failure, as without -o json.
func invokeJSON(name string, resp *http.Response, f invokeFlags, std stdio) error {
	r := invokeReport{Function: name, Status: resp.StatusCode}
	var failed error
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		r.Error = rawJSON(msg)
		failed = invokeError(name, resp.Status, msg)
	} else {
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return fmt.Errorf("invoke %s: read reply: %w", name, err)
		}
		if utf8.Valid(body) {
			s := string(body)
			r.Reply = &s
		} else {
			r.ReplyBase64 = body
		}
		if e := resp.Trailer.Get(node.HeaderError); e != "" {
			r.ErrorAfterReply = e
			failed = fmt.Errorf("invoke %s: failed after its reply: %s", name, e)
		}
	}
	if t := replyTrace(resp); t != "" {
		r.Trace = rawJSON([]byte(t))
		if f.trace {
			printTrace(std.err, t)
		}
	}
	if err := writeJSON(std.out, r); err != nil {
		return err
	}
	return failed
}

// rawJSON is b as a JSON value: itself if it is one, else a JSON string
// of its text.
func rawJSON(b []byte) json.RawMessage {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && json.Valid(b) {
		return b
	}
	s, _ := json.Marshal(string(b))
	return s
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
