// Command relay is a test guest driven by its payload: a command line, then
// data. Commands:
//
//	send NAME        send data to NAME, reply with the result code ("0", "-2", …)
//	forward NAME     send data to NAME; a failure fails the handler
//	repeat K NAME    send data to NAME K times; a failure fails the handler
//	nest K NAME      send "nest K-1 NAME" to NAME; at 0 reply "bottom"; the
//	                 sender whose send fails replies "depth-error CODE"
//	bounce K A B     send "bounce K-1 B A" to A: a chain that alternates
//	                 between A and B (two nodes' functions, a cycle across
//	                 nodes); at 0 reply "bottom"; the sender whose send
//	                 fails replies "depth-error CODE"
//	fail             return an error
//	panic            panic
//	reply2           reply "first", then reply again: the second must get
//	                 ErrAlreadyReplied, or the handler fails
//	replythenfail    reply "partial", then return an error
//	badptr PTR LEN   send with a raw name range (decimal u32s) and reply
//	                 with the result code
package main

import (
	"bytes"
	"errors"
	"strconv"
	"strings"

	"github.com/roadrunner-wasm/roadrunner/guest"
)

func init() { guest.Handle(handle) }

func main() {}

func code(err error) string {
	var e guest.Error
	if errors.As(err, &e) {
		return strconv.Itoa(int(e))
	}
	if err != nil {
		return "error: " + err.Error()
	}
	return "0"
}

func handle(payload []byte) error {
	line, data, _ := bytes.Cut(payload, []byte("\n"))
	args := strings.Fields(string(line))
	if len(args) == 0 {
		return errors.New("relay: empty command")
	}
	switch args[0] {
	case "send":
		guest.Reply([]byte(code(guest.Send(args[1], data))))
		return nil
	case "forward":
		return guest.Send(args[1], data)
	case "repeat":
		k, _ := strconv.Atoi(args[1])
		for range k {
			if err := guest.Send(args[2], data); err != nil {
				return err
			}
		}
		return nil
	case "nest":
		k, _ := strconv.Atoi(args[1])
		if k == 0 {
			return guest.Reply([]byte("bottom"))
		}
		next := "nest " + strconv.Itoa(k-1) + " " + args[2]
		if err := guest.Send(args[2], []byte(next)); err != nil {
			guest.Reply([]byte("depth-error " + code(err)))
		}
		return nil
	case "bounce":
		k, _ := strconv.Atoi(args[1])
		if k == 0 {
			return guest.Reply([]byte("bottom"))
		}
		next := "bounce " + strconv.Itoa(k-1) + " " + args[3] + " " + args[2]
		if err := guest.Send(args[2], []byte(next)); err != nil {
			guest.Reply([]byte("depth-error " + code(err)))
		}
		return nil
	case "fail":
		return errors.New("deliberate failure")
	case "panic":
		panic("deliberate panic")
	case "reply2":
		if err := guest.Reply([]byte("first")); err != nil {
			return err
		}
		if err := guest.Reply([]byte("second")); !errors.Is(err, guest.ErrAlreadyReplied) {
			return errors.New("second reply: got " + code(err) + ", want ErrAlreadyReplied")
		}
		return nil
	case "badptr":
		ptr, _ := strconv.ParseUint(args[1], 10, 32)
		n, _ := strconv.ParseUint(args[2], 10, 32)
		guest.Reply([]byte(strconv.Itoa(int(guest.SendRaw(uint32(ptr), uint32(n), 0, 0)))))
		return nil
	case "replythenfail":
		guest.Reply([]byte("partial"))
		return errors.New("failed after the reply")
	}
	return errors.New("relay: unknown command " + args[0])
}
