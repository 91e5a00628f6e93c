package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	csubtle "crypto/subtle"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/aead/xaesgcm"
	"github.com/tink-crypto/tink-go/v2/daead/subtle"
	"github.com/tink-crypto/tink-go/v2/insecuresecretdataaccess"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/secretdata"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// DataKeySize is the size in bytes of a data key (DEK).
const DataKeySize = 32

// HKDF info strings for the per-purpose subkeys. Changing them changes the
// format; they are part of FORMAT.md.
const (
	infoGCM  = "fieldseal/v1 aes-gcm"
	infoSIV  = "fieldseal/v1 aes-siv"
	infoXAES = "fieldseal/v1 xaes-256-gcm"
	// infoCheck derives a key check value: it tells whether two DataKeys
	// hold the same material (a re-wrapped key, a replayed ring) without
	// keeping the material.
	infoCheck = "fieldseal/v1 key check"
)

// xaesSaltLen is the part of the 24-byte XAES-256-GCM nonce that feeds the
// per-value key derivation (the C2SP specification fixes it at 12 bytes).
const xaesSaltLen = 12

// DataKey is one version of a data key, ready to use: its per-purpose
// subkeys are derived and its ciphers are set up once, in NewDataKey, so
// Seal and Open do no key setup. It does not keep the raw key material.
// A DataKey is safe for concurrent use; apart from its seal counter it is
// immutable.
type DataKey struct {
	id      uint32
	created time.Time
	gcm     cipher.AEAD // alg 1, opens old values only
	siv     *subtle.AESSIV
	xaes    tink.AEAD // alg 3, the random-mode default
	check   []byte    // HKDF output under infoCheck; never leaves the package

	// seals counts values sealed under this key by this process. Providers
	// carry a DataKey over from one ring to the next, so the count survives
	// refreshes.
	seals atomic.Uint64
}

// NewDataKey derives the subkeys of the 32-byte data key material with
// HKDF-SHA256 (no salt; info "fieldseal/v1 xaes-256-gcm", 32 bytes;
// "fieldseal/v1 aes-gcm", 32 bytes; "fieldseal/v1 aes-siv", 64 bytes). It
// does not keep or modify material; the caller may zero it afterwards.
func NewDataKey(id uint32, material []byte, created time.Time) (*DataKey, error) {
	if len(material) != DataKeySize {
		return nil, fmt.Errorf("build data key v%d: material is %d bytes, want %d", id, len(material), DataKeySize)
	}
	gcmKey, err := hkdf.Key(sha256.New, material, nil, infoGCM, 32)
	if err != nil {
		return nil, fmt.Errorf("build data key v%d: derive aes-gcm key: %w", id, err)
	}
	block, err := aes.NewCipher(gcmKey)
	clear(gcmKey)
	if err != nil {
		return nil, fmt.Errorf("build data key v%d: %w", id, err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("build data key v%d: %w", id, err)
	}
	// The AESSIV object keeps this slice: it must not be cleared.
	sivKey, err := hkdf.Key(sha256.New, material, nil, infoSIV, subtle.AESSIVKeySize)
	if err != nil {
		return nil, fmt.Errorf("build data key v%d: derive aes-siv key: %w", id, err)
	}
	siv, err := subtle.NewAESSIV(sivKey)
	if err != nil {
		return nil, fmt.Errorf("build data key v%d: %w", id, err)
	}
	xaesKey, err := hkdf.Key(sha256.New, material, nil, infoXAES, 32)
	if err != nil {
		return nil, fmt.Errorf("build data key v%d: derive xaes-256-gcm key: %w", id, err)
	}
	xa, err := newXAES(xaesKey)
	clear(xaesKey)
	if err != nil {
		return nil, fmt.Errorf("build data key v%d: %w", id, err)
	}
	check, err := hkdf.Key(sha256.New, material, nil, infoCheck, 32)
	if err != nil {
		return nil, fmt.Errorf("build data key v%d: derive key check value: %w", id, err)
	}
	return &DataKey{id: id, created: created, gcm: gcm, siv: siv, xaes: xa, check: check}, nil
}

// newXAES builds Tink's XAES-256-GCM (C2SP XAES-256-GCM: a per-value
// AES-256-GCM key derived with the NIST SP 800-108 CMAC KDF from the first
// 12 bytes of a 24-byte random nonce) without an output prefix, so its
// ciphertext is nonce(24) | ciphertext | tag(16). Tink offers the primitive
// only through a keyset, which copies key; the caller may clear key.
func newXAES(key []byte) (tink.AEAD, error) {
	params, err := xaesgcm.NewParameters(xaesgcm.VariantNoPrefix, xaesSaltLen)
	if err != nil {
		return nil, fmt.Errorf("xaes-256-gcm parameters: %w", err)
	}
	k, err := xaesgcm.NewKey(secretdata.NewBytesFromData(key, insecuresecretdataaccess.Token{}), 0, params)
	if err != nil {
		return nil, fmt.Errorf("xaes-256-gcm key: %w", err)
	}
	m := keyset.NewManager()
	kid, err := m.AddKey(k)
	if err != nil {
		return nil, fmt.Errorf("xaes-256-gcm keyset: %w", err)
	}
	if err := m.SetPrimary(kid); err != nil {
		return nil, fmt.Errorf("xaes-256-gcm keyset: %w", err)
	}
	h, err := m.Handle()
	if err != nil {
		return nil, fmt.Errorf("xaes-256-gcm keyset: %w", err)
	}
	a, err := aead.New(h)
	if err != nil {
		return nil, fmt.Errorf("xaes-256-gcm primitive: %w", err)
	}
	return a, nil
}

// ID returns the key version carried in every value sealed under it.
func (k *DataKey) ID() uint32 { return k.id }

// Created returns when the key version was created.
func (k *DataKey) Created() time.Time { return k.created }

// Seals returns how many values this process has sealed under the key
// since the key was built (both modes). Metrics read it to alert on, and
// rotate before, a per-key usage budget.
func (k *DataKey) Seals() uint64 { return k.seals.Load() }

// SameKey reports whether k and o hold the same key material, compared
// through a value derived from it (HKDF-SHA256 info "fieldseal/v1 key
// check", in process only), in constant time. A re-wrapped key is the same
// key; a version re-created under the same id is not.
func (k *DataKey) SameKey(o *DataKey) bool {
	return k != nil && o != nil && csubtle.ConstantTimeCompare(k.check, o.check) == 1
}

// String names the key without material, so it is safe to log.
func (k *DataKey) String() string { return fmt.Sprintf("DataKey(v%d)", k.id) }
