package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
)

// pkg is a package as go list describes it.
type pkg struct {
	ImportPath string
	Imports    []string
	Standard   bool
}

// violation is a forbidden dependency: chain runs from the package a rule
// holds for to the package it may not import.
type violation struct {
	rule  *rule
	chain []string
}

func (v violation) String() string {
	short := make([]string, len(v.chain))
	for i, p := range v.chain {
		short[i] = rel(p)
	}
	return strings.Join(short, " → ") + " (" + v.rule.why + ")"
}

// rel is p relative to the module, for messages.
func rel(p string) string {
	if p == module {
		return "."
	}
	return strings.TrimPrefix(p, module+"/")
}

// match reports whether the import path p matches pattern (see rule).
func match(pattern, p string) bool {
	if pattern == "..." {
		return p == module || strings.HasPrefix(p, module+"/")
	}
	if tree, ok := strings.CutSuffix(pattern, "/..."); ok {
		return p == module+"/"+tree || strings.HasPrefix(p, module+"/"+tree+"/")
	}
	return p == module+"/"+pattern
}

func matchAny(patterns []string, p string) bool {
	for _, pat := range patterns {
		if match(pat, p) {
			return true
		}
	}
	return false
}

// forbidden reports whether r forbids its packages to depend on p. A package
// missing from the graph (cgo's "C") counts as outside the standard library.
func (r *rule) forbidden(p string, graph map[string]*pkg) bool {
	if matchAny(r.except, p) {
		return false
	}
	if matchAny(r.forbid, p) {
		return true
	}
	if r.nonStd && !match("...", p) {
		q := graph[p]
		return q == nil || !q.Standard
	}
	return false
}

// check applies rules to graph: for each package a rule holds for, a
// breadth-first walk of its imports reports every forbidden package it
// reaches, with the shortest chain, and does not walk past it.
func check(graph map[string]*pkg, rules []rule) []violation {
	var vs []violation
	for _, root := range slices.Sorted(maps.Keys(graph)) {
		for i := range rules {
			r := &rules[i]
			if !matchAny(r.from, root) || matchAny(r.unless, root) {
				continue
			}
			parent := map[string]string{root: ""}
			queue := []string{root}
			for len(queue) > 0 {
				p := queue[0]
				queue = queue[1:]
				if p != root && r.forbidden(p, graph) {
					var chain []string
					for q := p; q != ""; q = parent[q] {
						chain = append([]string{q}, chain...)
					}
					vs = append(vs, violation{r, chain})
					continue
				}
				if q := graph[p]; q != nil {
					for _, imp := range q.Imports {
						if _, seen := parent[imp]; !seen {
							parent[imp] = p
							queue = append(queue, imp)
						}
					}
				}
			}
		}
	}
	return vs
}

// list runs go list -deps in dir for b and returns the import graph.
func list(dir string, b build) (map[string]*pkg, error) {
	args := []string{"list", "-deps", "-json=ImportPath,Imports,Standard"}
	if b.tags != "" {
		args = append(args, "-tags", b.tags)
	}
	patterns := b.patterns
	if len(patterns) == 0 {
		patterns = []string{"./..."}
	}
	cmd := exec.Command("go", append(args, patterns...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), b.env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s: %w: %s", strings.Join(cmd.Args[1:], " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	graph := map[string]*pkg{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		p := new(pkg)
		if err := dec.Decode(p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("decode go list output: %w", err)
		}
		graph[p.ImportPath] = p
	}
	return graph, nil
}

// run checks the module in dir in every build, printing each violation to w.
// It returns the number of violations.
func run(dir string, builds []build, rules []rule, w io.Writer) (int, error) {
	n := 0
	for _, b := range builds {
		graph, err := list(dir, b)
		if err != nil {
			return n, fmt.Errorf("%s: %w", b.name, err)
		}
		for _, v := range check(graph, rules) {
			fmt.Fprintf(w, "%s: %s\n", b.name, v)
			n++
		}
	}
	return n, nil
}
