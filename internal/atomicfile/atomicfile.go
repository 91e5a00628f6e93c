package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Create writes data to path, which must not exist: when it does, nothing
// is written and the error wraps fs.ErrExist (test it with errors.Is).
func Create(path string, data []byte) error { return write(path, data, false) }

// Replace writes data to path, replacing the file there, if any, in one
// rename: a reader sees the old content or the new, never a mix.
func Replace(path string, data []byte) error { return write(path, data, true) }

func write(path string, data []byte, replace bool) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*.tmp")
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("write %q: directory %q does not exist: %w", path, dir, err)
	}
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	name := tmp.Name()
	defer os.Remove(name) // after a rename or link this removes nothing or the extra name
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("set file mode: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write temporary file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync temporary file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close temporary file: %w", err)
	}
	if replace {
		err = os.Rename(name, path)
	} else {
		err = os.Link(name, path) // a link never clobbers: the atomic "create if absent"
	}
	if err != nil {
		return fmt.Errorf("install %q: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // make the new name durable; best effort on platforms without directory sync
		d.Close()
	}
	return nil
}
