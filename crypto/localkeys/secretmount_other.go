//go:build !unix

package localkeys

import "io/fs"

// mountedSecret is false where the kubelet's Secret volumes do not exist:
// the owner-only rule holds without exception.
func mountedSecret(string, fs.FileInfo) bool { return false }
