// Command echo is a test guest: it replies with the payload it received.
package main

import "github.com/roadrunner-wasm/roadrunner/guest"

func init() {
	guest.Handle(func(payload []byte) error { return guest.Reply(payload) })
}

func main() {}
