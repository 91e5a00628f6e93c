//go:build unix

package localkeys

import (
	"io/fs"
	"os"
	"syscall"
)

// mountedSecret reports whether fi is a file as the kubelet writes a
// Secret volume with defaultMode 0400 in a pod with an fsGroup: owned by
// root, writable by no one, readable by its group (the fsGroup) and by no
// other, and read by a process that is not root (a process running as root
// owns such a file and is held to the owner-only rule). Group members
// other than this process are the pod's containers, and only those that
// mount the volume see the file.
func mountedSecret(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid != 0 || os.Geteuid() == 0 {
		return false
	}
	perm := fi.Mode().Perm()
	return perm&0o222 == 0 && perm&0o007 == 0 && perm&0o040 != 0
}
