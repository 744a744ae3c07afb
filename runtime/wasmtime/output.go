//go:build wasmtime

package wasmtime

import (
	"context"
	"fmt"
	"io"
	"os"
)

// output carries what the guests of one function write to a WASI fd to an
// io.Writer. Wasmtime's WASI (through its C API) writes only to files it
// opens by path, so each store opens path, the write end of a pipe seen
// through /proc/self/fd, and a goroutine copies the read end to the writer.
// The write goes through the kernel: guest output is a log, not a payload.
type output struct {
	r, w *os.File
	path string
	done chan struct{}
}

func newOutput(dst io.Writer) (*output, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	o := &output{r: r, w: w, path: fmt.Sprintf("/proc/self/fd/%d", w.Fd()), done: make(chan struct{})}
	go func() {
		defer close(o.done)
		io.Copy(dst, r)
	}()
	return o, nil
}

// close closes the write end and waits, until ctx ends, for the copy to
// drain: it ends when every store holding the pipe open has been closed.
func (o *output) close(ctx context.Context) error {
	err := o.w.Close()
	select {
	case <-o.done:
	case <-ctx.Done():
	}
	o.r.Close() // ends the copy if ctx ended first
	<-o.done
	return err
}
