// Command boundary fails when a package of the module imports, directly or
// through others, a package it must not: the dependency rules of the design
// (DESIGN.md §2, issue 15), kept in one table in rules.go.
//
// It reads `go list -deps -json` for each build in rules.go (the default
// build, every engine and backend tag, and GOOS=wasip1 for the guest SDK),
// so that files behind a build tag are checked too; go list only parses, so
// no cgo library is needed. Each violation is printed with the chain of
// imports that leads to it, and the exit status is 1. Test files are not
// checked: a test may import what its package must not.
//
//	go run ./internal/boundary
package main
