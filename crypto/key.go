package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/tink-crypto/tink-go/v2/daead/subtle"
)

// DataKeySize is the size in bytes of a data key (DEK).
const DataKeySize = 32

// HKDF info strings for the per-purpose subkeys. Changing them changes the
// format; they are part of FORMAT.md.
const (
	infoGCM = "fieldseal/v1 aes-gcm"
	infoSIV = "fieldseal/v1 aes-siv"
)

// DataKey is one version of a data key, ready to use: its per-purpose
// subkeys are derived and its ciphers are set up once, in NewDataKey, so
// Seal and Open do no key setup. It does not keep the raw key material.
// A DataKey is immutable and safe for concurrent use.
type DataKey struct {
	id      uint32
	created time.Time
	gcm     cipher.AEAD
	siv     *subtle.AESSIV
}

// NewDataKey derives the subkeys of the 32-byte data key material with
// HKDF-SHA256 (no salt; info "fieldseal/v1 aes-gcm", 32 bytes, and
// "fieldseal/v1 aes-siv", 64 bytes). It does not keep or modify material;
// the caller may zero it afterwards.
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
	return &DataKey{id: id, created: created, gcm: gcm, siv: siv}, nil
}

// ID returns the key version carried in every value sealed under it.
func (k *DataKey) ID() uint32 { return k.id }

// Created returns when the key version was created.
func (k *DataKey) Created() time.Time { return k.created }

// String names the key without material, so it is safe to log.
func (k *DataKey) String() string { return fmt.Sprintf("DataKey(v%d)", k.id) }
