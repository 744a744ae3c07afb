package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/roadrunner-wasm/roadrunner/node"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("embed: ")
	if len(os.Args) < 2 {
		log.Fatal("usage: embed FUNCTION.wasm... < payload")
	}
	cfg := &node.Config{Node: node.NodeConfig{Name: "embed"}}
	for _, file := range os.Args[1:] {
		name := strings.TrimSuffix(filepath.Base(file), ".wasm")
		cfg.Functions = append(cfg.Functions, node.FunctionConfig{Name: name, Module: file})
	}
	payload, err := io.ReadAll(os.Stdin)
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	n, err := node.New(ctx, cfg, nil) // nil options: wazero, no logs
	if err != nil {
		log.Fatal(err)
	}

	// fill writes the payload straight into the receiver's memory; the
	// reply is written to stdout straight from the replying guest's.
	trace, err := n.Invoke(ctx, cfg.Functions[0].Name, uint64(len(payload)), func(dst []byte) error {
		copy(dst, payload)
		return nil
	}, os.Stdout)
	for _, hop := range trace {
		fmt.Fprintf(os.Stderr, "hop %s -> %s over %s: %d bytes, %s\n", hop.From, hop.To, hop.Path, hop.Bytes, hop.Result)
	}
	if serr := n.Shutdown(ctx); err == nil {
		err = serr
	}
	if err != nil {
		log.Fatal(err)
	}
}
