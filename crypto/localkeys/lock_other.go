//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package localkeys

import (
	"errors"
	"os"
)

// flock is not available here: ring changes would not be safe between
// processes, so they are refused.
func flock(*os.File) error {
	return errors.New("file locks are not supported on this platform")
}
