//go:build linux

package bpf

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// Probe reports whether this process may use sockmaps as [Load] would,
// and leaves nothing behind: bpffs is mounted at /sys/fs/bpf or may be
// mounted (tried on a temporary directory, then unmounted), the program
// and maps load unpinned, the program attaches, and one byte sent over a
// loopback TCP connection whose two sockets are in the map is redirected
// (the program's counter says so). The error wraps [ErrNotSupported] when
// the answer is no.
func Probe() error {
	if err := rlimit.RemoveMemlock(); err != nil {
		return fmt.Errorf("bpf: %w: %w", ErrNotSupported, err)
	}
	if err := probeBPFFS(); err != nil {
		return err
	}
	spec, err := loadSockmap()
	if err != nil {
		return fmt.Errorf("bpf: %w", err)
	}
	var objs sockmapObjects
	if err := spec.LoadAndAssign(&objs, nil); err != nil {
		return classify("load", err)
	}
	defer objs.Close()
	err = link.RawAttachProgram(link.RawAttachProgramOptions{
		Target:  objs.SockHash.FD(),
		Program: objs.RedirectPeer,
		Attach:  ebpf.AttachSkMsgVerdict,
	})
	if err != nil {
		return classify("attach sk_msg program", err)
	}
	s := &Sockmap{objs: objs, lock: -1}
	return probeRedirect(s)
}

// probeBPFFS checks that bpffs is at /sys/fs/bpf, or that this process
// could mount it there.
func probeBPFFS() error {
	if ok, _ := isBPFFS(bpffsRoot); ok {
		return nil
	}
	dir, err := os.MkdirTemp("", "rr-bpffs-probe-")
	if err != nil {
		return fmt.Errorf("bpf: %w", err)
	}
	defer os.Remove(dir)
	if err := unix.Mount("bpf", dir, "bpf", 0, "mode=0700"); err != nil {
		return fmt.Errorf("bpf: %w: bpffs is not mounted at %s and mounting it failed: %w", ErrNotSupported, bpffsRoot, err)
	}
	if err := unix.Unmount(dir, 0); err != nil {
		return fmt.Errorf("bpf: unmount probe bpffs %s: %w", dir, err)
	}
	return nil
}

// probeRedirect sends one byte between two loopback sockets in s's map
// and checks that the program redirected it.
func probeRedirect(s *Sockmap) error {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("bpf: probe: %w", err)
	}
	defer ln.Close()
	c, err := net.DialTimeout("tcp4", ln.Addr().String(), 5*time.Second)
	if err != nil {
		return fmt.Errorf("bpf: probe: %w", err)
	}
	defer c.Close()
	srv, err := ln.Accept()
	if err != nil {
		return fmt.Errorf("bpf: probe: %w", err)
	}
	defer srv.Close()
	for _, conn := range []net.Conn{srv, c} {
		if _, err := s.Add(conn.(*net.TCPConn)); err != nil {
			return err
		}
	}
	before, _, err := s.Stats()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(5 * time.Second)
	c.SetDeadline(deadline)
	srv.SetDeadline(deadline)
	if _, err := c.Write([]byte{'r'}); err != nil {
		return fmt.Errorf("bpf: probe: write: %w", err)
	}
	var b [1]byte
	if _, err := io.ReadFull(srv, b[:]); err != nil {
		return fmt.Errorf("bpf: probe: read: %w", err)
	}
	after, _, err := s.Stats()
	if err != nil {
		return err
	}
	if b[0] != 'r' {
		return errors.New("bpf: probe: the redirected byte arrived changed")
	}
	if after != before+1 {
		return fmt.Errorf("bpf: %w: a message between two sockets in the map was not redirected (counter %d -> %d)", ErrNotSupported, before, after)
	}
	return nil
}
