//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package localkeys

import (
	"os"
	"syscall"
)

// flock takes an exclusive flock(2) on f, retrying when a signal
// interrupts the wait.
func flock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			return err
		}
	}
}
