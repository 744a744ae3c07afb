package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/roadrunner-wasm/roadrunner/internal/ociwasm"
)

// registryFlags are push's and pull's ways to reach a registry, as oras
// names them.
type registryFlags struct {
	plainHTTP        bool
	caFile, authFile string
}

func (f *registryFlags) add(c *cobra.Command) {
	c.Flags().BoolVar(&f.plainHTTP, "plain-http", false, "speak plain HTTP to the reference's registry, not HTTPS")
	c.Flags().StringVar(&f.caFile, "ca-file", "", "PEM `file` of CA certificates to trust for HTTPS, in addition to the system's")
	c.Flags().StringVar(&f.authFile, "auth-file", "", "Docker config.json `file` with the registry's credentials (only this file is read: not $DOCKER_CONFIG, not ~/.docker)")
}

func (f *registryFlags) options(r ociwasm.Reference) *ociwasm.Options {
	o := &ociwasm.Options{CAFile: f.caFile, AuthFile: f.authFile}
	if f.plainHTTP {
		o.PlainHTTP = []string{r.Registry}
	}
	return o
}

// parseRef is the reference arg of c, a usage error if it does not parse.
func parseRef(c *cobra.Command, arg string) (ociwasm.Reference, error) {
	r, err := ociwasm.ParseReference(arg)
	if err != nil {
		return r, usageError{fmt.Errorf("%s: %w (see %s --help)", c.Name(), err, c.CommandPath())}
	}
	return r, nil
}

const registryHelp = `
--auth-file is a Docker config.json, the .dockerconfigjson of a Kubernetes
imagePullSecret: {"auths": {"HOST:PORT": {"auth": "BASE64(user:password)"}}}.
Only the file given is read (not $DOCKER_CONFIG, not ~/.docker/config.json),
and credential helpers ("credsStore", "credHelpers") are not run. Without it
the registry is asked anonymously. --plain-http speaks HTTP to the
reference's registry; --ca-file adds CA certificates to the system's for
HTTPS. They are the node's node.registry settings (see docs/REGISTRY.md).`

// pushReport is rrnode push -o json.
type pushReport struct {
	Digest    string `json:"digest"`
	Reference string `json:"reference"`
	Size      int    `json:"size"`
}

func newPushCmd(std stdio) *cobra.Command {
	var f registryFlags
	c := &cobra.Command{
		Use:   "push FILE oci://REGISTRY/REPOSITORY:TAG",
		Short: "Publish a Wasm module to an OCI registry; print its digest",
		Long: `Publish the Wasm module FILE to an OCI registry in the CNCF Wasm OCI
artifact layout (an application/vnd.wasm.config.v0+json config and one
application/wasm layer), tagged TAG, and print the manifest's digest and the
reference pinned by it, which a node's config can name:

    $ rrnode push build/wasm/transform.wasm oci://registry.example:5000/fn/transform:v1
    digest: sha256:5b1e...
    reference: oci://registry.example:5000/fn/transform@sha256:5b1e...

The artifact is reproducible: the same module gives the same digest. A
reference pinned by digest (…@sha256:DIGEST) pushes without a tag, and only
if DIGEST is the artifact's.
` + registryHelp + `

-o json prints {"digest", "reference", "size"}.`,
		Args: exactArgs(2),
	}
	out := addOutputFlag(c, "text", "json")
	f.add(c)
	c.RunE = func(c *cobra.Command, args []string) error {
		if ociwasm.IsReference(args[0]) && !ociwasm.IsReference(args[1]) {
			return usageError{fmt.Errorf("push: the file comes first: rrnode push FILE oci://… (see %s --help)", c.CommandPath())}
		}
		r, err := parseRef(c, args[1])
		if err != nil {
			return err
		}
		module, err := os.ReadFile(args[0])
		if err != nil {
			return fmt.Errorf("push: %w", err)
		}
		d, err := ociwasm.Push(c.Context(), r.String(), module, f.options(r))
		if err != nil {
			return err
		}
		rep := pushReport{Digest: d, Reference: ociwasm.Reference{Registry: r.Registry, Repository: r.Repository, Digest: d}.String(), Size: len(module)}
		if out.value == "json" {
			return writeJSON(std.out, rep)
		}
		_, err = fmt.Fprintf(std.out, "digest: %s\nreference: %s\n", rep.Digest, rep.Reference)
		return err
	}
	return c
}

// pullReport is rrnode pull -o json.
type pullReport struct {
	Digest    string `json:"digest"`
	Layer     string `json:"layer"`
	Reference string `json:"reference"`
	Size      int    `json:"size"`
	File      string `json:"file"`
}

func newPullCmd(std stdio) *cobra.Command {
	var f registryFlags
	c := &cobra.Command{
		Use:   "pull oci://REGISTRY/REPOSITORY(:TAG|@sha256:DIGEST) FILE",
		Short: "Fetch a Wasm module from an OCI registry into a file",
		Long: `Fetch the Wasm module a reference names, check it against its digests, and
write it to FILE (whole or not at all: through a temporary file renamed).
Print the manifest's digest, the module's size and the reference pinned by
the digest. It takes what a node takes: the CNCF Wasm OCI artifact layout,
or a plain image of one layer that is a Wasm module; there is no cache.
` + registryHelp + `

-o json prints {"digest", "layer", "reference", "size", "file"}.`,
		Args: exactArgs(2),
	}
	out := addOutputFlag(c, "text", "json")
	f.add(c)
	c.RunE = func(c *cobra.Command, args []string) error {
		if !ociwasm.IsReference(args[0]) && ociwasm.IsReference(args[1]) {
			return usageError{fmt.Errorf("pull: the reference comes first: rrnode pull oci://… FILE (see %s --help)", c.CommandPath())}
		}
		r, err := parseRef(c, args[0])
		if err != nil {
			return err
		}
		m, err := ociwasm.Pull(c.Context(), r.String(), f.options(r))
		if err != nil {
			return err
		}
		if err := ociwasm.WriteFile(args[1], m.Bytes); err != nil {
			return fmt.Errorf("pull: %w", err)
		}
		rep := pullReport{Digest: m.Digest, Layer: m.Layer, Reference: m.Reference, Size: len(m.Bytes), File: args[1]}
		if out.value == "json" {
			return writeJSON(std.out, rep)
		}
		_, err = fmt.Fprintf(std.out, "digest: %s\nsize: %d\nreference: %s\n", rep.Digest, rep.Size, rep.Reference)
		return err
	}
	return c
}
