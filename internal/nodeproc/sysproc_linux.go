package nodeproc

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel kill the node if the process that started
// it dies first (a test binary killed by its -timeout, a demo killed by
// SIGPIPE), so that no node is left holding its port. Pdeathsig fires when
// the thread that started the child exits; Go exits threads only for locked
// goroutines that return without unlocking, which this package never does,
// and a Namespace does only when its thread cannot leave the namespace
// (Start then fails, and the node is not wanted anyway).
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
