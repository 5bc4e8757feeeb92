package engines

import "syscall"

// sysProcAttr puts the server in its own process group (so that a signal
// reaches everything it started) and has the kernel kill it if the test
// process dies first.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
