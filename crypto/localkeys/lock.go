package localkeys

import (
	"fmt"
	"os"
)

// lockRing takes an exclusive lock on the ring file at path, waiting for
// another holder to let go, and returns its release. Every command that
// changes the ring holds it from its read to its write, so the
// read-check-modify-write of two processes (two sidecars rotating on use,
// a sidecar and `keys rotate`) never interleaves: the second one reads the
// first one's result, and a conditional rotation finds its condition gone
// instead of adding a second version.
//
// The lock is flock(2) on a sibling file, path+".lock" (the ring file itself
// is replaced by rename on every write, so it cannot carry the lock). The
// lock file is created with mode 0600 and left in place: removing it would
// let a waiter and a newcomer lock two different files. flock works between
// processes on one machine and on volumes shared by containers on it; on
// NFS its semantics depend on the server.
func lockRing(path string) (release func(), err error) {
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open ring lock: %w", err)
	}
	if err := flock(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock ring %q: %w", path+".lock", err)
	}
	// Closing the file releases the lock.
	return func() { f.Close() }, nil
}

// Writable reports (nil) whether this process may change the ring at path:
// it opens the ring's lock file for writing, creating it if needed, which
// every change (Rotate, RotateIf, ...) must. A sidecar whose ring comes from
// a read-only mount gets an error, and only reports a due rotation.
func Writable(path string) error {
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open ring lock: %w", err)
	}
	return f.Close()
}
