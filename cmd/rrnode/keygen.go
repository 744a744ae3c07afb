package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/roadrunner-wasm/roadrunner/transport"
)

func newKeygenCmd(std stdio) *cobra.Command {
	return &cobra.Command{
		Use:   "keygen",
		Short: "Print a fresh random key for node.auth.keys (or a token for node.http_auth.token_file)",
		Long: `Print 32 random bytes from the system's cryptographic random source as 64
hexadecimal digits and a newline: one line of a node.auth.keys file, which
authenticates the HELLO between nodes. It serves as an HTTP bearer token
(node.http_auth.token_file) too.

Make a key file for a cluster, readable by the node's user only:

    (umask 077; rrnode keygen > keys)

Rotate without downtime in three rollouts: add a new key as the second line
on every node; then make it the first line everywhere; then drop the old.`,
		Args: exactArgs(0),
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintln(std.out, transport.GenerateKey())
			return err
		},
	}
}
