// Package atomicfile writes whole files that no reader sees half written
// and no crash leaves half written: the data goes to a temporary file with
// mode 0600 in the target's directory, is synced, and is then hard-linked to
// the target (Create, which never overwrites: a link fails if the name
// exists) or renamed over it (Replace). The directory is synced afterwards
// where the platform allows, so the new name survives a crash too.
//
// The key providers write key-ring files and key backups through it; those
// hold wrapped keys only, and the 0600 mode keeps them to the owner anyway.
package atomicfile
