// Package crypto seals and opens single JSON values for fieldseal and holds
// the key ring. It knows nothing of HTTP or AWS, and does no logging and
// exports no metrics: the key cache that shares a ring with every request,
// and its monitoring, are crypto/keycache.
//
// # Sealed values
//
// A sealed value is the content of a JSON string:
//
//	"fs1:" base64url-no-padding( header | body )
//	header = alg (1 byte) | JSON type (1 byte) | key id (uint32, big-endian)
//	alg 3 (ModeRandom, XAES-256-GCM):     body = nonce (24, random) | ciphertext | tag (16)
//	alg 2 (ModeDeterministic, AES-SIV):   body = SIV (16) | ciphertext   (RFC 5297 output)
//	alg 1 (old random mode, AES-256-GCM): body = nonce (12, random) | ciphertext | tag (16)
//
// Alg 1 is still opened but no longer written: random 96-bit nonces bound a
// key to about 2^32 values, XAES-256-GCM (Tink's aead/xaesgcm) has no
// practical bound. Keyring.SealCount reports seals per key version.
//
// The AEAD's associated data is header || caller AAD, so the algorithm, the
// original JSON type and the key id are authenticated along with the value.
// Caller AAD is built by AAD and binds the value to its field class and
// optional context, so a sealed value cannot be pasted into another field
// or record. Each 32-byte data key is expanded with HKDF-SHA256 (no salt)
// into an XAES-256-GCM key (info "fieldseal/v1 xaes-256-gcm", 32 bytes), an
// AES-256-GCM key (info "fieldseal/v1 aes-gcm", 32 bytes) and an AES-SIV key
// (info "fieldseal/v1 aes-siv", 64 bytes). FORMAT.md has the
// full description and test vectors other languages can check against.
//
// Deterministic mode leaks equality (equal plaintexts under one key and AAD
// give equal sealed values) and is opt-in per field class.
//
// Open never returns plaintext for a value that does not authenticate. A
// value with the prefix that does not open is an error (ErrMalformed,
// ErrUnknownKey, ErrTampered), never legacy plaintext; values without the
// prefix (IsSealed false) are legacy plaintext and the caller's concern.
//
// # Keys
//
// A Keyring is an immutable set of DataKey versions with one primary and
// one lookup version: Seal uses the primary for random values and the
// lookup version for deterministic ones (a routine rotation moves only the
// primary, so equality lookups keep matching), Open the version named in
// the value, so rotation needs no code change and old values keep opening.
// A Source (crypto/localkeys,
// crypto/awskeys) loads key rings, and a Changer tells cheaply whether the
// ring changed; crypto/keycache calls them. Key material never reaches
// error text, and DataKey prints only its id.
//
// Both providers store a ring's versions as a RingVersions (primary,
// minimum, retired, destroyed and lookup versions) and change it only
// through its methods, so the lifecycle rules (which version may be
// retired or destroyed, how high the minimum may go) and their errors
// (ErrLifecycle, ErrLookupVersion) are the same for every provider.
// HighestID is the one rule for the version ids a ring has issued, NextID
// for the one a rotation issues next (ErrKeyIDsExhausted at the header's
// 32-bit limit), and DecodeBackup, CheckBackup and BackupDigest the one
// check of a backup file's format and digest (ErrBadBackup).
//
// Typical use, with a ring from a Source or a keycache.Cache:
//
//	aad := crypto.AAD(nil, "email", tenant)
//	out, err := ring.Seal(out, plaintext, crypto.TypeString, crypto.ModeRandom, aad)
//	pt, typ, keyID, err := ring.Open(nil, out, aad)
package crypto
