//go:build linux

package features

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/roadrunner-wasm/roadrunner/internal/ring"
)

func probeIOURing() error {
	r, err := ring.New(&ring.Options{Entries: 4})
	if err != nil {
		err = withErrnoName(err)
		if v, rerr := ring.ReadDisabled(); rerr == nil && v != 0 {
			return fmt.Errorf("%w (kernel.io_uring_disabled=%d)", err, v)
		}
		return err
	}
	defer r.Close()
	if r.Features()&ring.FeatExtArg == 0 {
		return fmt.Errorf("io_uring: no IORING_FEAT_EXT_ARG (Linux 5.11): %w", unix.EOPNOTSUPP)
	}
	p, err := r.Probe()
	if err != nil {
		return fmt.Errorf("io_uring probe: %w", err)
	}
	for _, op := range []struct {
		op   uint8
		name string
	}{{ring.OpSend, "SEND"}, {ring.OpRecv, "RECV"}, {ring.OpSendMsg, "SENDMSG"}, {ring.OpAsyncCancel, "ASYNC_CANCEL"}} {
		if !p.Supported(op.op) {
			return fmt.Errorf("io_uring: operation %s: %w", op.name, unix.EOPNOTSUPP)
		}
	}
	return nil
}

// probeSendZC sends probeData with SEND_ZC and usage reporting over a TCP
// loopback pair and reads it back.
func probeSendZC() error {
	if err := HaveIOURing(); err != nil {
		return err
	}
	r, err := ring.New(&ring.Options{Entries: 4})
	if err != nil {
		return err
	}
	defer r.Close()
	if p, err := r.Probe(); err != nil || !p.Supported(ring.OpSendZC) {
		return fmt.Errorf("io_uring: operation SEND_ZC: %w", unix.EOPNOTSUPP)
	}
	client, server, err := probeTCPPair()
	if err != nil {
		return err
	}
	defer unix.Close(client)
	defer unix.Close(server)
	buf := make([]byte, len(probeData)) // heap: the kernel reads it after the call
	copy(buf, probeData)
	if err := r.SendZC(ring.Op{UserData: 1}, client, buf, unix.MSG_NOSIGNAL, ring.SendZCReportUsage); err != nil {
		return err
	}
	var cqes [2]ring.CQE
	for more := true; more; {
		n, err := r.Wait(cqes[:], 1, 5*time.Second)
		if err != nil {
			return fmt.Errorf("io_uring SEND_ZC: %w", err)
		}
		for _, c := range cqes[:n] {
			if c.Res < 0 && c.Flags&ring.CQEFNotif == 0 {
				return opErrno("io_uring SEND_ZC", c.Err())
			}
			more = c.Flags&ring.CQEFMore != 0 && c.Flags&ring.CQEFNotif == 0
		}
	}
	return probeReadBack(server, probeData, "io_uring SEND_ZC")
}
