package wire_test

import (
	"bytes"
	"fmt"

	"github.com/roadrunner-wasm/roadrunner/transport/wire"
)

// A receiver reads a header, then the name, and only then lends memory for
// the payload: everything that can be refused is refused before that.
func ExampleReadHeader() {
	payload := []byte("hello, consumer")
	h := wire.Header{
		Kind:       wire.KindData,
		Flags:      wire.FlagCRC,
		NameLen:    uint16(len("consumer")),
		PayloadLen: uint64(len(payload)),
		ID:         1,
		CRC:        wire.Checksum(payload),
	}
	var conn bytes.Buffer // stands for a connection
	conn.Write(wire.AppendHeader(nil, &h))
	conn.WriteString("consumer")
	conn.Write(payload)

	var (
		buf     [wire.HeaderSize]byte // one per connection
		nameBuf [wire.MaxNameLen]byte
	)
	got, err := wire.ReadHeader(&conn, &buf, wire.Limits{})
	if err != nil {
		fmt.Println("close the connection:", err)
		return
	}
	name, err := wire.ReadName(&conn, got, nameBuf[:0])
	if err != nil {
		fmt.Println("close the connection:", err)
		return
	}
	dst := make([]byte, got.PayloadLen) // the receiver's view, lent by a Sink
	if err := wire.ReadPayload(&conn, got, dst); err != nil {
		fmt.Println("close the connection:", err)
		return
	}
	fmt.Printf("%s got %q\n", name, dst)
	ack := wire.NewAck(got.ID, 0)
	fmt.Println(ack.Kind, ack.ID, ack.Status)
	// Output:
	// consumer got "hello, consumer"
	// ACK 1 0
}
