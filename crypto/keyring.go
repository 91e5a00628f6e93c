package crypto

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"time"
)

// KeyInfo describes one key version without its material.
type KeyInfo struct {
	ID      uint32    `json:"id"`
	Created time.Time `json:"created"`
	Primary bool      `json:"primary"`
	// Retired versions still open but may never become primary again.
	Retired bool `json:"retired,omitempty"`
	// Destroyed versions (destroyed, or below the ring's minimum version)
	// have no key: values under them report ErrKeyDestroyed.
	Destroyed bool `json:"destroyed,omitempty"`
	// Lookup marks the version deterministic values are sealed under (see
	// Lifecycle.Lookup).
	Lookup bool `json:"lookup,omitempty"`
}

// Lifecycle is the part of a ring's authenticated metadata that limits which
// key versions open and which may seal. The zero value restricts nothing.
type Lifecycle struct {
	// MinVersion: versions below it no longer open (0 or 1: all open).
	MinVersion uint32
	// Retired versions open but never seal; the primary may not be retired.
	Retired []uint32
	// Destroyed versions have no key material any more (crypto-shredding).
	Destroyed []uint32
	// Lookup is the version deterministic values (ModeDeterministic) are
	// sealed under; 0 means the primary, which is what rings written before
	// the lookup version existed do. It moves only on an explicit command,
	// not with the primary, so equality lookups keep finding values sealed
	// before a routine rotation. It may be neither retired, destroyed nor
	// below MinVersion.
	Lookup uint32
	// RingID is the ring's identity as its authenticated metadata states it
	// (empty for rings that have none). It restricts nothing here; the key
	// cache compares it across refreshes (CheckSuccessor).
	RingID string
}

// Keyring is an immutable set of data key versions with one primary and one
// lookup version. Seal uses the primary for random values and the lookup
// version for deterministic ones; Open uses the version named in the value,
// so rotation is a key-ring change, never a code change. A Keyring is safe
// for concurrent use; a nil *Keyring seals and opens nothing and reports
// ErrNoKey.
type Keyring struct {
	keys      map[uint32]*DataKey
	primary   *DataKey
	lookup    *DataKey // deterministic seals; the primary unless the ring names another
	revision  string
	versions  []KeyInfo // sorted by ID, destroyed versions included
	destroyed map[uint32]bool
	minVer    uint32
	ringID    string

	// searchOnly is set on rings made by ForLookup: their deterministic
	// seals are search terms and are not counted.
	searchOnly bool

	// legacyNonces is nil in production. Tests set it through an unexported
	// hook to write old-format (alg 1, AES-256-GCM) values with chosen
	// nonces, for the FORMAT.md test vector and for values "sealed by an
	// earlier release"; there is no exported way to choose a nonce or alg.
	legacyNonces io.Reader
}

// NewKeyring builds a key ring from keys, whose ids must be distinct and
// include primary. revision is an opaque provider token (a secret version
// id, a file hash) used to tell whether the source changed.
func NewKeyring(keys []*DataKey, primary uint32, revision string) (*Keyring, error) {
	return NewKeyringLifecycle(keys, primary, revision, Lifecycle{})
}

// NewKeyringLifecycle is NewKeyring for a ring whose metadata retires or
// destroys versions or names a lookup version. keys must not hold a
// destroyed version or one below lc.MinVersion (a provider does not unwrap
// them); the primary and a non-zero lc.Lookup must be among keys and not
// retired.
func NewKeyringLifecycle(keys []*DataKey, primary uint32, revision string, lc Lifecycle) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("build key ring: no keys: %w", ErrNoKey)
	}
	r := &Keyring{keys: make(map[uint32]*DataKey, len(keys)), revision: revision,
		destroyed: make(map[uint32]bool, len(lc.Destroyed)), minVer: lc.MinVersion, ringID: lc.RingID}
	retired := make(map[uint32]bool, len(lc.Retired))
	for _, id := range lc.Retired {
		retired[id] = true
	}
	for _, id := range lc.Destroyed {
		r.destroyed[id] = true
	}
	for _, k := range keys {
		if k == nil {
			return nil, fmt.Errorf("build key ring: nil data key")
		}
		if _, dup := r.keys[k.id]; dup {
			return nil, fmt.Errorf("build key ring: duplicate key v%d", k.id)
		}
		if r.destroyed[k.id] || k.id < r.minVer {
			return nil, fmt.Errorf("build key ring: key v%d is destroyed or below the minimum version v%d", k.id, r.minVer)
		}
		r.keys[k.id] = k
		r.versions = append(r.versions, KeyInfo{ID: k.id, Created: k.created, Primary: k.id == primary, Retired: retired[k.id]})
	}
	for id := range r.destroyed {
		r.versions = append(r.versions, KeyInfo{ID: id, Destroyed: true, Retired: retired[id]})
	}
	p, ok := r.keys[primary]
	if !ok {
		return nil, fmt.Errorf("build key ring: primary v%d is not among the keys: %w", primary, ErrNoKey)
	}
	if retired[primary] {
		return nil, fmt.Errorf("build key ring: primary v%d is retired: %w", primary, ErrNoKey)
	}
	r.primary, r.lookup = p, p
	if lc.Lookup != 0 {
		l, ok := r.keys[lc.Lookup]
		if !ok || retired[lc.Lookup] {
			return nil, fmt.Errorf("build key ring: lookup v%d is not among the keys or is retired: %w", lc.Lookup, ErrNoKey)
		}
		r.lookup = l
	}
	for i := range r.versions {
		r.versions[i].Lookup = r.versions[i].ID == r.lookup.id
	}
	slices.SortFunc(r.versions, func(a, b KeyInfo) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return r, nil
}

// Key returns the key version id, so providers can carry unwrapped keys over
// to the next ring instead of unwrapping them again.
func (r *Keyring) Key(id uint32) (*DataKey, bool) {
	if r == nil {
		return nil, false
	}
	k, ok := r.keys[id]
	return k, ok
}

// Primary returns the id of the key new values are sealed under (0 for nil).
func (r *Keyring) Primary() uint32 {
	if r == nil {
		return 0
	}
	return r.primary.id
}

// Lookup returns the id of the key deterministic values are sealed under
// (0 for nil): the ring's lookup version, or the primary when the ring names
// none.
func (r *Keyring) Lookup() uint32 {
	if r == nil {
		return 0
	}
	return r.lookup.id
}

// SealingKey returns the id of the key Seal uses for mode (0 for nil).
func (r *Keyring) SealingKey(mode Mode) uint32 {
	if mode == ModeDeterministic {
		return r.Lookup()
	}
	return r.Primary()
}

// LookupVersions lists, newest first, the versions other than the lookup
// version that open values: those a store may still hold deterministic
// values under (sealed before an explicit lookup rotation, or by a release
// that sealed them under the primary). ForLookup seals under each.
func (r *Keyring) LookupVersions() []uint32 {
	if r == nil {
		return nil
	}
	var ids []uint32
	for i := len(r.versions) - 1; i >= 0; i-- {
		v := r.versions[i]
		if _, ok := r.keys[v.ID]; ok && v.ID != r.lookup.id {
			ids = append(ids, v.ID)
		}
	}
	return ids
}

// ForLookup returns a ring that is r except that its deterministic seals
// use version id, which must open values (a retired version does): it
// computes the value a store holds for a plaintext sealed under an earlier
// lookup version, to search by while values are being re-sealed. Its
// deterministic seals are search terms, never values to store, and are not
// counted (SealCount); random seals still use the primary. Versions still
// marks r's lookup version.
func (r *Keyring) ForLookup(id uint32) (*Keyring, error) {
	if r == nil {
		return nil, fmt.Errorf("lookup ring for v%d: %w", id, ErrNoKey)
	}
	k, ok := r.keys[id]
	if !ok {
		return nil, fmt.Errorf("lookup ring for v%d: key is not in the key ring: %w", id, ErrUnknownKey)
	}
	c := *r
	c.lookup = k
	c.searchOnly = true
	return &c, nil
}

// Revision returns the provider's opaque token for this ring.
func (r *Keyring) Revision() string {
	if r == nil {
		return ""
	}
	return r.revision
}

// SealCount returns how many values this process sealed under key version
// id (0 for a version the ring does not hold). The count lives in the
// DataKey, which providers carry from ring to ring, so it is not reset by a
// refresh. A metrics owner reads it per version listed by Versions.
func (r *Keyring) SealCount(id uint32) uint64 {
	if k, ok := r.Key(id); ok {
		return k.Seals()
	}
	return 0
}

// MinVersion returns the lowest version that opens (0: no minimum).
func (r *Keyring) MinVersion() uint32 {
	if r == nil {
		return 0
	}
	return r.minVer
}

// RingID returns the ring's identity (Lifecycle.RingID; empty for none).
func (r *Keyring) RingID() string {
	if r == nil {
		return ""
	}
	return r.ringID
}

// Versions lists the key versions, sorted by id, without material.
func (r *Keyring) Versions() []KeyInfo {
	if r == nil {
		return nil
	}
	return slices.Clone(r.versions)
}

// Seal seals plaintext and appends the sealed value
// (Prefix and base64url text, no JSON quotes) to dst. For TypeString the
// plaintext is the decoded string content; otherwise it is raw JSON text.
// aad must come from AAD. ModeRandom seals under the primary key,
// ModeDeterministic under the lookup key (Lookup), which a routine rotation
// leaves in place so that equal plaintexts keep sealing equal. On error dst
// is returned unchanged.
//
// Seal grows dst once and uses its spare capacity beyond the returned
// length as scratch (ciphertext and AAD only, never plaintext), so a caller
// that reuses dst seals without allocating in random mode. plaintext must
// not overlap dst's spare capacity.
func (r *Keyring) Seal(dst, plaintext []byte, typ JSONType, mode Mode, aad []byte) ([]byte, error) {
	if r == nil {
		return dst, fmt.Errorf("seal value: %w", ErrNoKey)
	}
	if !typ.valid() {
		return dst, fmt.Errorf("seal value: unknown JSON type %d", typ)
	}
	k := r.primary
	if mode == ModeDeterministic {
		k = r.lookup
	}
	var rawLen int
	var alg Alg
	switch {
	case mode == ModeRandom && r.legacyNonces != nil:
		alg, rawLen = AlgAESGCM, headerLen+nonceLen+len(plaintext)+tagLen
	case mode == ModeRandom:
		alg, rawLen = AlgXAESGCM, headerLen+xaesNonceLen+len(plaintext)+tagLen
	case mode == ModeDeterministic:
		alg, rawLen = AlgAESSIV, headerLen+tagLen+len(plaintext)
	default:
		return dst, fmt.Errorf("seal value with key v%d: unknown mode %d", k.id, mode)
	}

	// Layout of the grown region: [Prefix+base64 text][raw payload][header|aad].
	start := len(dst)
	textLen := len(Prefix) + enc.EncodedLen(rawLen)
	need := textLen + rawLen + headerLen + len(aad)
	dst = slices.Grow(dst, need)
	region := dst[start : start+need]
	raw := region[textLen : textLen+rawLen : textLen+rawLen]
	fullAAD := region[textLen+rawLen : need : need]

	raw[0] = byte(alg)
	raw[1] = byte(typ)
	binary.BigEndian.PutUint32(raw[2:headerLen], k.id)
	// The header is authenticated: the AEAD's associated data is
	// header || caller AAD.
	copy(fullAAD, raw[:headerLen])
	copy(fullAAD[headerLen:], aad)

	switch alg {
	case AlgXAESGCM:
		// Tink draws the 24-byte nonce from crypto/rand and returns
		// nonce | ciphertext | tag in a buffer of its own.
		ct, err := k.xaes.Encrypt(plaintext, fullAAD)
		if err != nil || len(ct) != rawLen-headerLen {
			return dst[:start], fmt.Errorf("seal value with key v%d: xaes-256-gcm: %w", k.id, err)
		}
		copy(raw[headerLen:], ct)
	case AlgAESGCM:
		nonce := raw[headerLen : headerLen+nonceLen]
		if _, err := io.ReadFull(r.legacyNonces, nonce); err != nil {
			return dst[:start], fmt.Errorf("seal value with key v%d: read nonce: %w", k.id, err)
		}
		k.gcm.Seal(raw[headerLen+nonceLen:headerLen+nonceLen], nonce, plaintext, fullAAD)
	case AlgAESSIV:
		ct, err := k.siv.EncryptDeterministically(plaintext, fullAAD)
		if err != nil {
			return dst[:start], fmt.Errorf("seal value with key v%d: %w", k.id, err)
		}
		copy(raw[headerLen:], ct)
	}

	if !r.searchOnly || alg != AlgAESSIV {
		k.seals.Add(1)
	}
	out := append(dst[:start], Prefix...)
	return enc.AppendEncode(out, raw), nil
}

// Open opens a sealed value and appends its plaintext to dst. It returns the
// original JSON type and the key id the value names (also on ErrUnknownKey
// and ErrTampered, for audit). Errors: ErrMalformed (including a missing
// prefix; callers check IsSealed first), ErrUnknownKey, ErrKeyDestroyed, ErrTampered,
// ErrNoKey. On error dst is returned unchanged and no plaintext is appended.
//
// Like Seal, Open grows dst once and uses its spare capacity as scratch
// (ciphertext and AAD; on failure no plaintext is left there), so a caller
// that reuses dst opens random-mode values without allocating. sealed must
// not overlap dst's spare capacity.
func (r *Keyring) Open(dst, sealed, aad []byte) (out []byte, typ JSONType, keyID uint32, err error) {
	if r == nil {
		return dst, 0, 0, fmt.Errorf("open sealed value: %w", ErrNoKey)
	}
	if !IsSealed(sealed) {
		return dst, 0, 0, fmt.Errorf("open sealed value: no %q prefix: %w", Prefix, ErrMalformed)
	}
	text := sealed[len(Prefix):]
	// encoding/base64 skips CR and LF; refuse them so that one payload has
	// exactly one accepted text form.
	if bytes.IndexByte(text, '\r') >= 0 || bytes.IndexByte(text, '\n') >= 0 {
		return dst, 0, 0, fmt.Errorf("open sealed value: line break in base64: %w", ErrMalformed)
	}

	// Layout of the grown region: [plaintext][raw payload][header|aad].
	maxRaw := enc.DecodedLen(len(text))
	start := len(dst)
	need := 2*maxRaw + headerLen + len(aad)
	dst = slices.Grow(dst, need)
	region := dst[start : start+need]
	raw, decErr := enc.AppendDecode(region[maxRaw:maxRaw:2*maxRaw], text)
	if decErr != nil {
		return dst[:start], 0, 0, fmt.Errorf("open sealed value: bad base64: %w", ErrMalformed)
	}
	if len(raw) < headerLen {
		return dst[:start], 0, 0, fmt.Errorf("open sealed value: %d bytes is shorter than the header: %w", len(raw), ErrMalformed)
	}
	alg, typ, keyID := Alg(raw[0]), JSONType(raw[1]), binary.BigEndian.Uint32(raw[2:headerLen])
	overhead, known := alg.overhead()
	if !known {
		return dst[:start], 0, keyID, fmt.Errorf("open sealed value: unknown algorithm %d: %w", raw[0], ErrMalformed)
	}
	if len(raw) < headerLen+overhead {
		return dst[:start], 0, keyID, fmt.Errorf("open sealed value with key v%d: too short: %w", keyID, ErrMalformed)
	}
	if !typ.valid() {
		return dst[:start], 0, keyID, fmt.Errorf("open sealed value: unknown JSON type %d: %w", raw[1], ErrMalformed)
	}
	k, ok := r.keys[keyID]
	if !ok && (r.destroyed[keyID] || keyID < r.minVer) {
		return dst[:start], 0, keyID, fmt.Errorf("open sealed value: key v%d is destroyed or below the minimum version: %w", keyID, ErrKeyDestroyed)
	}
	if !ok {
		return dst[:start], 0, keyID, fmt.Errorf("open sealed value: key v%d is not in the key ring (revision %q): %w", keyID, r.revision, ErrUnknownKey)
	}
	fullAAD := region[2*maxRaw : need : need]
	copy(fullAAD, raw[:headerLen])
	copy(fullAAD[headerLen:], aad)

	var pt []byte
	switch alg {
	case AlgXAESGCM:
		pt, err = k.xaes.Decrypt(raw[headerLen:], fullAAD)
	case AlgAESGCM:
		// In place, at the start of the region; on failure crypto/cipher
		// zeroes the output region.
		pt, err = k.gcm.Open(region[:0:maxRaw], raw[headerLen:headerLen+nonceLen], raw[headerLen+nonceLen:], fullAAD)
	default: // AlgAESSIV
		pt, err = k.siv.DecryptDeterministically(raw[headerLen:], fullAAD)
	}
	if err != nil {
		return dst[:start], 0, keyID, fmt.Errorf("open sealed value with key v%d: %w", keyID, ErrTampered)
	}
	if alg == AlgAESGCM {
		return dst[:start+len(pt)], typ, keyID, nil
	}
	// XAES-256-GCM and AES-SIV return a buffer of their own: copy the
	// plaintext out and clear it.
	out = append(dst[:start], pt...)
	clear(pt)
	return out, typ, keyID, nil
}
