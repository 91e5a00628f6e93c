// Package localkeys is fieldseal's local key provider: a key-ring file whose
// data keys are wrapped by a master key given by file or environment. It is
// what the quick start and cloud-free deployments use.
//
// The ring file is JSON, mode 0600, always replaced atomically (temporary
// file in the same directory, then rename):
//
//	{"format": "fieldseal-local-ring/v2",
//	 "ring_id": "<random, base64url>",
//	 "primary": 2, "min_version": 0, "retired": [], "destroyed": [],
//	 "keys": [{"id": 1, "created": "2026-11-25T17:00:00Z", "wrapped": "<base64>"}, ...],
//	 "mac": "<base64>"}
//
// wrapped is nonce(12) | AES-256-GCM(ciphertext | tag) of the 32-byte data
// key under a wrapping key derived from the master key with HKDF-SHA256
// (info "fieldseal/v1 local-ring wrap"), with associated data
// format 0x00 ring_id 0x00 decimal(id), so a wrapped key cannot be moved to
// another ring, version or format. mac is HMAC-SHA256 of the metadata
// (crypto.RingMetadata) under a second HKDF key ("fieldseal/v1 local-ring
// metadata"): an edited primary or lifecycle is refused. v1 rings (no mac)
// are read and upgraded by the next change. crypto/FORMAT.md has the full
// description and a Python reader.
//
// Lifecycle: Retire, SetMinVersion, Destroy, Verify, WriteBackup /
// RestoreBackup and Rewrap (to a new master key). A non-primary version that
// does not unwrap is left out of the loaded ring and reported by
// Provider.Unreadable instead of failing the load.
//
// The master key file must not be readable by group or others (a root-owned,
// read-only file readable by its group, as a Kubernetes Secret volume with
// defaultMode 0400 and an fsGroup gives a non-root container, excepted), and the
// environment variable is unset once read. The master key is base64 (standard or URL alphabet, padding optional) of
// exactly 32 random bytes. Missing, short, long and visibly non-random keys
// (one repeated byte, few distinct bytes, an arithmetic sequence, all
// printable ASCII such as a pass phrase) are refused. There is no built-in
// master key. Plaintext keys are never written to disk or logged.
//
// Provider implements crypto.Source and crypto.Changer: its revision is the
// SHA-256 of the file bytes, so the key cache reloads only when the file
// changed, and a reload unwraps only key versions it has not seen.
//
// Every change (Rotate, RotateIf, the lifecycle commands) holds an
// exclusive flock(2) on RING.lock from its read to its write, so processes
// that change one ring at once take turns: RotateIf's condition ("primary
// older than 90 days", "primary still v3") is checked against the ring as
// the previous writer left it, and racing rotations on one condition add one
// version. A change still refuses to replace a file that moved without the
// lock (an edit by hand). Init creates the file atomically and fails if it
// exists.
package localkeys
