//go:build unix && !linux

package engines

import "syscall"

// sysProcAttr puts the server in its own process group, so that a signal
// reaches everything it started.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
