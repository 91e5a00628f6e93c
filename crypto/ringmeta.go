package crypto

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"slices"
)

// ErrMetadataMAC: a key ring's metadata (primary, lookup, minimum, retired
// and destroyed versions, the wrapped keys) does not match its MAC: the ring
// was edited outside fieldseal, or the MAC key is not the ring's.
var ErrMetadataMAC = errors.New("key ring metadata failed authentication")

// RingMetadata is what a provider's MAC covers: everything in a stored key
// ring that decides which key seals and which values open. Providers fill
// it from their stored form and call MAC or Verify; the encoding is in
// FORMAT.md ("Ring metadata MAC") so that other readers can check it.
//
// The wrapped keys themselves are not covered: each is already
// authenticated by its wrapping (AEAD or KMS) and bound to its ring id and
// version, and leaving them out lets one corrupted wrapped key fail alone
// instead of failing the whole ring.
type RingMetadata struct {
	// Format names the stored layout (e.g. "fieldseal-local-ring/v2").
	Format string
	// RingID is the ring's random identity.
	RingID     string
	Primary    uint32
	MinVersion uint32
	Retired    []uint32
	Destroyed  []uint32
	Keys       []KeyMeta
	// CMK is the KMS key an aws ring wraps new data keys under (empty for
	// local rings). It is encoded only when non-empty, so local rings keep
	// the encoding they had before the field existed.
	CMK string
	// Lookup is the version deterministic values are sealed under (see
	// Lifecycle.Lookup); 0 means the primary. A non-zero Lookup switches the
	// record to its second encoding (label "fieldseal/v2 ring-metadata",
	// FORMAT.md), so rings written before the field existed keep their MAC
	// and a MAC over a ring with a lookup version never verifies the same
	// ring with the field removed.
	Lookup uint32
}

// KeyMeta is one stored key version as the MAC sees it.
type KeyMeta struct {
	ID uint32
	// Created is the creation time exactly as stored (RFC 3339 text).
	Created string
}

// Labels of the two encodings of the metadata record: v1 for rings without
// a lookup version, v2 (which adds it) for the others.
const (
	ringMetaLabel   = "fieldseal/v1 ring-metadata"
	ringMetaLabelV2 = "fieldseal/v2 ring-metadata"
)

// encode is the canonical byte string the MAC covers: lists sorted, every
// variable-length field prefixed by its uint32 big-endian length. With a
// lookup version the label is v2, the CMK is always encoded (empty for
// local rings) and the lookup version follows it.
func (m RingMetadata) encode() []byte {
	label := ringMetaLabel
	if m.Lookup != 0 {
		label = ringMetaLabelV2
	}
	b := append([]byte(label), 0)
	str := func(s []byte) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	ids := func(v []uint32) {
		v = slices.Clone(v)
		slices.Sort(v)
		v = slices.Compact(v)
		b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
		for _, id := range v {
			b = binary.BigEndian.AppendUint32(b, id)
		}
	}
	str([]byte(m.Format))
	str([]byte(m.RingID))
	b = binary.BigEndian.AppendUint32(b, m.Primary)
	b = binary.BigEndian.AppendUint32(b, m.MinVersion)
	ids(m.Retired)
	ids(m.Destroyed)
	keys := slices.Clone(m.Keys)
	slices.SortFunc(keys, func(a, b KeyMeta) int { return int(int64(a.ID) - int64(b.ID)) })
	b = binary.BigEndian.AppendUint32(b, uint32(len(keys)))
	for _, k := range keys {
		b = binary.BigEndian.AppendUint32(b, k.ID)
		str([]byte(k.Created))
	}
	if m.Lookup != 0 {
		str([]byte(m.CMK))
		return binary.BigEndian.AppendUint32(b, m.Lookup)
	}
	if m.CMK != "" {
		str([]byte(m.CMK))
	}
	return b
}

// Digest returns SHA-256 of the canonical encoding of m. Providers whose
// signer cannot hold a MAC key (an aws rotator may make keys but never
// decrypt) bind the digest into a KMS encryption context instead.
func (m RingMetadata) Digest() []byte {
	sum := sha256.Sum256(m.encode())
	return sum[:]
}

// MAC returns HMAC-SHA256 under macKey (32 bytes, never a data key) of the
// canonical encoding of m.
func (m RingMetadata) MAC(macKey []byte) []byte {
	h := hmac.New(sha256.New, macKey)
	h.Write(m.encode())
	return h.Sum(nil)
}

// Verify reports ErrMetadataMAC unless mac is m's MAC under macKey
// (compared in constant time).
func (m RingMetadata) Verify(macKey, mac []byte) error {
	if !hmac.Equal(m.MAC(macKey), mac) {
		return ErrMetadataMAC
	}
	return nil
}

// Lifecycle returns the part of m that NewKeyringLifecycle enforces.
func (m RingMetadata) Lifecycle() Lifecycle {
	return Lifecycle{MinVersion: m.MinVersion, Retired: slices.Clone(m.Retired), Destroyed: slices.Clone(m.Destroyed), Lookup: m.Lookup}
}
