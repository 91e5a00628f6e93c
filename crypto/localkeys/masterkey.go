package localkeys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
)

// MasterKeySize is the size in bytes of a master key.
const MasterKeySize = 32

// Master key errors, for errors.Is.
var (
	// ErrNoMasterKey: neither the file nor the environment variable gave a key.
	ErrNoMasterKey = errors.New("no master key")
	// ErrWeakMasterKey: the key is not 32 random-looking bytes in base64.
	ErrWeakMasterKey = errors.New("weak or malformed master key")
	// ErrMasterKeyExposed: the master key file is open to group or others.
	ErrMasterKeyExposed = errors.New("master key file is not private to its owner")
)

const (
	infoWrap = "fieldseal/v1 local-ring wrap"
	infoMeta = "fieldseal/v1 local-ring metadata"
)

// MasterKey wraps and unwraps data keys in a ring file. It holds only the
// derived wrapping cipher, never prints its material, and its zero value is
// unusable (operations report ErrNoMasterKey).
type MasterKey struct {
	wrap cipher.AEAD
	meta []byte // HMAC key for the ring metadata, derived, never the master key
}

// String redacts the key so that it cannot reach a log by accident.
func (MasterKey) String() string { return "MasterKey(redacted)" }

// GoString redacts the key for %#v too.
func (MasterKey) GoString() string { return "MasterKey(redacted)" }

// LoadMasterKey reads the master key from file, or, when file is empty,
// from the environment variable envVar. A file readable or writable by
// group or others is refused (ErrMasterKeyExposed), with one exception: a
// read-only file owned by root that only its group may also read (mode
// 0440 or 0040), read by a process that is not root, in a kubelet Secret
// or projected volume (the file is a symlink to "..data/NAME" and "..data"
// a symlink to a root-owned "..TIMESTAMP" directory beside it). That is
// how the kubelet mounts a Secret with defaultMode 0400 in a pod with an
// fsGroup (it adds group read and sets the group to the fsGroup), the only
// way a non-root container reads a Secret file not open to others; the
// same mode elsewhere (root:users 0440 on a shared host) is refused. The variable
// is unset once read. Errors say where it looked and what to do, never the key text.
func LoadMasterKey(file, envVar string) (MasterKey, error) {
	if file != "" {
		fi, err := os.Stat(file)
		if err != nil {
			return MasterKey{}, fmt.Errorf("read master key file %q: %w", file, err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 && !mountedSecret(file, fi) {
			hint := "run chmod 600"
			if perm&0o037 == 0 {
				hint += " (group read is accepted only for a root-owned file of a Kubernetes Secret volume)"
			}
			return MasterKey{}, fmt.Errorf("master key file %q has mode %04o: readable or writable by group or others; %s: %w", file, perm, hint, ErrMasterKeyExposed)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return MasterKey{}, fmt.Errorf("read master key file %q: %w", file, err)
		}
		mk, err := ParseMasterKey(string(b))
		if err != nil {
			return MasterKey{}, fmt.Errorf("master key file %q: %w", file, err)
		}
		return mk, nil
	}
	if envVar == "" {
		return MasterKey{}, fmt.Errorf("load master key: neither a master key file nor an environment variable is configured: %w", ErrNoMasterKey)
	}
	v, ok := os.LookupEnv(envVar)
	if !ok || strings.TrimSpace(v) == "" {
		return MasterKey{}, fmt.Errorf("load master key: environment variable %s is not set or empty: %w", envVar, ErrNoMasterKey)
	}
	// The variable is read once: clearing it keeps the key out of the
	// environment of anything this process starts and out of
	// /proc/PID/environ readers that look later.
	os.Unsetenv(envVar)
	mk, err := ParseMasterKey(v)
	if err != nil {
		return MasterKey{}, fmt.Errorf("master key in environment variable %s: %w", envVar, err)
	}
	return mk, nil
}

// ParseMasterKey parses base64 text (standard or URL alphabet, padding
// optional, surrounding white space ignored) of exactly 32 bytes and refuses
// keys that do not look random.
func ParseMasterKey(text string) (MasterKey, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return MasterKey{}, ErrNoMasterKey
	}
	var raw []byte
	var err error
	for _, e := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if raw, err = e.DecodeString(text); err == nil {
			break
		}
	}
	if err != nil {
		return MasterKey{}, fmt.Errorf("not base64: %w", ErrWeakMasterKey)
	}
	defer clear(raw)
	if len(raw) != MasterKeySize {
		return MasterKey{}, fmt.Errorf("decodes to %d bytes, want %d random bytes: %w", len(raw), MasterKeySize, ErrWeakMasterKey)
	}
	if why := weakness(raw); why != "" {
		return MasterKey{}, fmt.Errorf("%s; generate one with `fieldseal keys master-key`: %w", why, ErrWeakMasterKey)
	}
	return newMasterKey(raw)
}

// weakness names why k does not look like 32 random bytes, or returns "".
// Each test is one a uniformly random key fails with negligible probability
// (all-printable: (95/256)^32 < 2^-45; fewer than 16 distinct bytes: far
// less).
func weakness(k []byte) string {
	var seen [256]bool
	distinct, printable := 0, 0
	arithmetic := true
	for i, b := range k {
		if !seen[b] {
			seen[b] = true
			distinct++
		}
		if b >= 0x20 && b < 0x7f {
			printable++
		}
		if i >= 2 && b-k[i-1] != k[i-1]-k[i-2] {
			arithmetic = false
		}
	}
	switch {
	case distinct == 1:
		return "all bytes are the same"
	case distinct < 16:
		return fmt.Sprintf("only %d distinct byte values", distinct)
	case arithmetic:
		return "bytes form a counting sequence"
	case printable == len(k):
		return "bytes are all printable text (a pass phrase, not a random key)"
	}
	return ""
}

func newMasterKey(raw []byte) (MasterKey, error) {
	wk, err := hkdf.Key(sha256.New, raw, nil, infoWrap, 32)
	if err != nil {
		return MasterKey{}, fmt.Errorf("derive wrapping key: %w", err)
	}
	defer clear(wk)
	block, err := aes.NewCipher(wk)
	if err != nil {
		return MasterKey{}, fmt.Errorf("derive wrapping key: %w", err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return MasterKey{}, fmt.Errorf("derive wrapping key: %w", err)
	}
	meta, err := hkdf.Key(sha256.New, raw, nil, infoMeta, 32)
	if err != nil {
		return MasterKey{}, fmt.Errorf("derive metadata key: %w", err)
	}
	return MasterKey{wrap: gcm, meta: meta}, nil
}

// GenerateMasterKey returns a new master key as standard base64 text of 32
// bytes from crypto/rand, for `fieldseal keys master-key`.
func GenerateMasterKey() (string, error) {
	for {
		k := make([]byte, MasterKeySize)
		rand.Read(k)
		// A random key fails the weakness tests with negligible probability;
		// drawing again keeps GenerateMasterKey and ParseMasterKey consistent.
		if weakness(k) == "" {
			s := base64.StdEncoding.EncodeToString(k)
			clear(k)
			return s, nil
		}
	}
}
