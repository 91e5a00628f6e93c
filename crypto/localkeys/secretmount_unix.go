//go:build unix

package localkeys

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
)

// dataLink is the symlink of a kubelet Secret (or projected) volume that
// points at the current timestamped directory of its files.
const dataLink = "..data"

// tsDirName matches the timestamped directory the kubelet's atomic writer
// makes for each update of a volume: "..2006_01_02_15_04_05." and a number.
var tsDirName = regexp.MustCompile(`^\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.\d+$`)

// mountedSecret reports whether file, whose (link-following) FileInfo is
// fi, is a file of a kubelet Secret or projected volume with defaultMode
// 0400 in a pod with an fsGroup: owned by root, writable by no one, readable
// by its group (the fsGroup) and by no other, read by a process that is not
// root (a process running as root owns such a file and is held to the
// owner-only rule). Group members other than this process are then the
// pod's containers, and only those that mount the volume see the file.
//
// The mode alone does not say that: on an ordinary host a root-owned 0440
// file of a shared group (users) is readable by every member. So the file
// must also sit in the kubelet's atomic-writer layout: file is a symlink to
// "..data/NAME", "..data" beside it is a symlink to a "..TIMESTAMP"
// directory in the same directory, and that directory and the file in it
// are root's, as only the kubelet (or root) makes them. A subPath mount
// (a plain file) does not qualify.
func mountedSecret(file string, fi fs.FileInfo) bool {
	if !rootReadOnlyGroupFile(fi) || os.Geteuid() == 0 {
		return false
	}
	dir, name := filepath.Split(file)
	if target, err := os.Readlink(file); err != nil || target != filepath.Join(dataLink, name) {
		return false
	}
	tsDir, err := os.Readlink(filepath.Join(dir, dataLink))
	if err != nil || !tsDirName.MatchString(tsDir) {
		return false
	}
	d, err := os.Lstat(filepath.Join(dir, tsDir))
	if err != nil || !d.IsDir() || !ownedByRoot(d) {
		return false
	}
	// The file itself, not a link placed there to a file elsewhere.
	f, err := os.Lstat(filepath.Join(dir, tsDir, name))
	return err == nil && f.Mode().IsRegular() && os.SameFile(f, fi)
}

// rootReadOnlyGroupFile reports whether fi is owned by root, writable by no
// one and readable by its group and by no other.
func rootReadOnlyGroupFile(fi fs.FileInfo) bool {
	perm := fi.Mode().Perm()
	return ownedByRoot(fi) && perm&0o222 == 0 && perm&0o007 == 0 && perm&0o040 != 0
}

func ownedByRoot(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Uid == 0
}
