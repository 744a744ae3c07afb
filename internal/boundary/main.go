package main

import (
	"fmt"
	"os"
)

func main() {
	n, err := run(".", builds, rules, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "boundary:", err)
		os.Exit(2)
	}
	if n > 0 {
		fmt.Fprintf(os.Stderr, "boundary: %d violations (rules in internal/boundary/rules.go)\n", n)
		os.Exit(1)
	}
}
