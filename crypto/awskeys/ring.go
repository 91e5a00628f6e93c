package awskeys

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/fieldseal/fieldseal/crypto"
)

// Ring formats. A reader refuses others. ringFormatV1 rings (earlier
// releases) have no ring id and no metadata seal and bind every data key to
// the secret name; the next command that changes such a ring upgrades it to
// ringFormat, keeping each old key's binding (wrappedKey.Secret).
const (
	ringFormat   = "fieldseal.aws-ring/v2"
	ringFormatV1 = "fieldseal.aws-ring/v1"
)

// Encryption context keys bound to every wrapped data key and metadata seal.
const (
	// ContextRing names the ring's random id (ring format v2).
	ContextRing = "fieldseal:ring"
	// ContextVersion names the data key version.
	ContextVersion = "fieldseal:version"
	// ContextMetadata is the hex SHA-256 of the ring's metadata (see
	// crypto.RingMetadata), bound into the metadata seal.
	ContextMetadata = "fieldseal:metadata"
	// ContextSecret names the secret; only keys made by ring format v1 carry it.
	ContextSecret = "fieldseal:secret"
)

// ring is the secret's JSON: wrapped data keys and where they came from. It holds
// no plaintext key material.
type ring struct {
	Format string `json:"format"`
	// RingID is the ring's random identity (v2). Data keys are bound to it,
	// not to the secret name, so a ring restored under another name opens.
	RingID string `json:"ring_id,omitempty"`
	// CMK is the KMS key as the operator named it at Init (alias or id); Rotate
	// wraps new keys under what it resolves to now.
	CMK string `json:"cmk"`
	// RingVersions (primary, min_version, retired, destroyed, lookup) keep
	// their place in the JSON between cmk and keys.
	crypto.RingVersions
	Keys []wrappedKey `json:"keys"`
	// CMKRotationSeen is the date of the newest CMK rotation (ListKeyRotations)
	// the ring has followed; zero when none was seen or the endpoint cannot tell.
	CMKRotationSeen time.Time `json:"cmk_rotation_seen,omitzero"`
	// CMKKeyMaterial is the CMK's current key material id when KMS reports it
	// (DescribeKey CurrentKeyMaterialId), a second sign of rotation.
	CMKKeyMaterial string `json:"cmk_key_material,omitempty"`
	// Seal authenticates the metadata (v2): a KMS ciphertext made by
	// GenerateDataKeyWithoutPlaintext under the encryption context
	// {fieldseal:ring, fieldseal:metadata: hex SHA-256 of the metadata}. Only
	// a holder of a KMS permission to make ciphertexts under the ring's CMK
	// can produce one that decrypts under that context; the plaintext it
	// wraps is random and thrown away.
	Seal *metadataSeal `json:"metadata_seal,omitempty"`
}

type metadataSeal struct {
	Wrapped  []byte `json:"wrapped"`
	CMKKeyID string `json:"cmk_key_id"`
}

type wrappedKey struct {
	ID       uint32    `json:"id"`
	Created  time.Time `json:"created"`
	Wrapped  []byte    `json:"wrapped"` // KMS ciphertext blob, base64 in JSON
	CMKKeyID string    `json:"cmk_key_id"`
	// Secret is set on keys made by ring format v1: they stay bound to the
	// secret name they were made under ({fieldseal:secret, fieldseal:version})
	// until a CMK re-wrap moves them to the ring id.
	Secret string `json:"secret,omitempty"`
}

func parseRing(data []byte) (*ring, error) {
	var r ring
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedRing, err)
	}
	switch r.Format {
	case ringFormat:
		if r.RingID == "" || r.Seal == nil || len(r.Seal.Wrapped) == 0 || r.Seal.CMKKeyID == "" {
			return nil, fmt.Errorf("%w: %s ring without ring id or metadata seal", ErrMalformedRing, ringFormat)
		}
	case ringFormatV1:
		if r.RingID != "" || r.Seal != nil || r.MinVersion != 0 || len(r.Retired) > 0 || len(r.Destroyed) > 0 || r.Lookup != 0 {
			return nil, fmt.Errorf("%w: %s ring with %s fields", ErrMalformedRing, ringFormatV1, ringFormat)
		}
	default:
		return nil, fmt.Errorf("%w: format %q, want %q", ErrMalformedRing, r.Format, ringFormat)
	}
	if len(r.Keys) == 0 {
		return nil, fmt.Errorf("%w: no keys", ErrMalformedRing)
	}
	seen := make(map[uint32]bool, len(r.Keys))
	for _, k := range r.Keys {
		switch {
		case k.ID == 0:
			return nil, fmt.Errorf("%w: key id 0", ErrMalformedRing)
		case seen[k.ID]:
			return nil, fmt.Errorf("%w: duplicate key id %d", ErrMalformedRing, k.ID)
		case len(k.Wrapped) == 0:
			return nil, fmt.Errorf("%w: key v%d has no wrapped key", ErrMalformedRing, k.ID)
		case k.CMKKeyID == "":
			return nil, fmt.Errorf("%w: key v%d names no cmk", ErrMalformedRing, k.ID)
		case k.Secret != "" && r.Format == ringFormatV1:
			return nil, fmt.Errorf("%w: key v%d: secret binding in a %s ring", ErrMalformedRing, k.ID, ringFormatV1)
		}
		seen[k.ID] = true
	}
	if err := r.Check(seen); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedRing, err)
	}
	return &r, nil
}

// metadata is what the seal covers: everything that decides which key seals
// and which values open, and the CMK new keys are wrapped under.
func (r *ring) metadata() crypto.RingMetadata {
	m := r.Metadata(r.Format, r.RingID)
	m.CMK = r.CMK
	for _, k := range r.Keys {
		m.Keys = append(m.Keys, crypto.KeyMeta{ID: k.ID, Created: k.Created.UTC().Format(time.RFC3339Nano)})
	}
	return m
}

// sealContext is the encryption context of the metadata seal of r as it is now.
func (r *ring) sealContext() map[string]string {
	return map[string]string{ContextRing: r.RingID, ContextMetadata: hex.EncodeToString(r.metadata().Digest())}
}

// keyContext is the encryption context a wrapped key of r is bound to.
// secretName is the secret r was read from (v1 rings bind keys to it).
func (r *ring) keyContext(secretName string, k wrappedKey) map[string]string {
	switch {
	case r.Format == ringFormatV1:
		return encryptionContext(secretName, k.ID)
	case k.Secret != "":
		return encryptionContext(k.Secret, k.ID)
	}
	return ringContext(r.RingID, k.ID)
}

func (r *ring) marshal() (string, error) {
	b, err := json.Marshal(r)
	return string(b), err
}

// maxID is the highest version id r has issued (crypto.HighestID).
func (r *ring) maxID() uint32 {
	return crypto.HighestID(&r.RingVersions, r.Keys, func(k wrappedKey) uint32 { return k.ID })
}

func (r *ring) key(id uint32) (wrappedKey, bool) {
	i := slices.IndexFunc(r.Keys, func(k wrappedKey) bool { return k.ID == id })
	if i < 0 {
		return wrappedKey{}, false
	}
	return r.Keys[i], true
}

func (r *ring) clone() *ring {
	c := *r
	c.Keys = slices.Clone(r.Keys)
	c.RingVersions = r.RingVersions.Clone()
	if r.Seal != nil {
		s := *r.Seal
		c.Seal = &s
	}
	return &c
}

// ringContext binds a wrapped key to its ring and version: KMS refuses to unwrap
// it under any other pair, so a wrapped key copied into another ring or slot does
// not open, and IAM can restrict kms:Decrypt to one ring. The secret name is not
// part of it, so a ring restored under another name still opens.
func ringContext(ringID string, id uint32) map[string]string {
	return map[string]string{ContextRing: ringID, ContextVersion: strconv.FormatUint(uint64(id), 10)}
}

// encryptionContext is the binding of keys made by ring format v1: secret name
// and version.
func encryptionContext(secretName string, id uint32) map[string]string {
	return map[string]string{ContextSecret: secretName, ContextVersion: strconv.FormatUint(uint64(id), 10)}
}

// newRingID returns 16 random bytes in base64url.
func newRingID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// requestToken derives the Secrets Manager ClientRequestToken (which becomes the
// version id) of the child of parent that adds key id. Every writer that starts
// from the same parent derives the same token, and Secrets Manager accepts one
// token once per secret, so at most one child per parent is written: concurrent
// rotators cannot silently overwrite each other.
func requestToken(parent string, id uint32) string {
	sum := sha256.Sum256([]byte("fieldseal/ring-version\x00" + parent + "\x00" + strconv.FormatUint(uint64(id), 10)))
	return fmt.Sprintf("%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
}

// secretVersion is one read of the ring secret.
type secretVersion struct {
	name      string // canonical secret name (the encryption context uses it)
	arn       string
	versionID string
	ring      *ring
	size      int    // bytes of the secret string
	body      string // the secret string as read (empty for rings this process built)
}

func (c *clients) secretRef() string { return strconv.Quote(c.opts.SecretID) }

func (c *clients) readRing(ctx context.Context) (*secretVersion, error) {
	out, err := call(ctx, c, func(ctx context.Context) (*secretsmanager.GetSecretValueOutput, error) {
		return c.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
			SecretId: aws.String(c.opts.SecretID), VersionStage: aws.String("AWSCURRENT"),
		})
	})
	if err != nil {
		return nil, callError("secretsmanager", "GetSecretValue", "secret "+c.secretRef(), err)
	}
	if out.SecretString == nil {
		return nil, fmt.Errorf("read key ring from secret %s: %w: secret has no string value", c.secretRef(), ErrMalformedRing)
	}
	r, err := parseRing([]byte(*out.SecretString))
	if err != nil {
		return nil, fmt.Errorf("read key ring from secret %s version %s: %w", c.secretRef(), aws.ToString(out.VersionId), err)
	}
	return &secretVersion{name: aws.ToString(out.Name), arn: aws.ToString(out.ARN), versionID: aws.ToString(out.VersionId),
		ring: r, size: len(*out.SecretString), body: *out.SecretString}, nil
}

// cmkInfo is what DescribeKey tells about the CMK.
type cmkInfo struct {
	arn         string
	keyMaterial string // empty when KMS does not report it
}

func (c *clients) describeKey(ctx context.Context, keyID string) (cmkInfo, error) {
	out, err := call(ctx, c, func(ctx context.Context) (*kms.DescribeKeyOutput, error) {
		return c.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyID)})
	})
	if err != nil {
		return cmkInfo{}, callError("kms", "DescribeKey", "key "+strconv.Quote(keyID), err)
	}
	md := out.KeyMetadata
	if md == nil || md.Arn == nil {
		return cmkInfo{}, fmt.Errorf("kms DescribeKey key %q: no key metadata in the answer", keyID)
	}
	if !md.Enabled || (md.KeySpec != "" && md.KeySpec != kmstypes.KeySpecSymmetricDefault) ||
		(md.KeyUsage != "" && md.KeyUsage != kmstypes.KeyUsageTypeEncryptDecrypt) {
		return cmkInfo{}, fmt.Errorf("kms key %q (state %s, spec %s, usage %s): %w",
			keyID, md.KeyState, md.KeySpec, md.KeyUsage, ErrKMSKeyState)
	}
	return cmkInfo{arn: *md.Arn, keyMaterial: aws.ToString(md.CurrentKeyMaterialId)}, nil
}

// latestRotation returns the date of the CMK's newest rotation (automatic or on
// demand), zero when it never rotated.
func (c *clients) latestRotation(ctx context.Context, keyARN string) (time.Time, error) {
	var latest time.Time
	var marker *string
	for page := 0; page < 100; page++ {
		out, err := call(ctx, c, func(ctx context.Context) (*kms.ListKeyRotationsOutput, error) {
			return c.kms.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{
				KeyId: aws.String(keyARN), Limit: aws.Int32(1000), Marker: marker,
			})
		})
		if err != nil {
			return time.Time{}, callError("kms", "ListKeyRotations", "key "+strconv.Quote(keyARN), err)
		}
		for _, r := range out.Rotations {
			if r.RotationDate != nil && r.RotationDate.After(latest) {
				latest = *r.RotationDate
			}
		}
		if !out.Truncated || out.NextMarker == nil {
			return latest.UTC(), nil
		}
		marker = out.NextMarker
	}
	return time.Time{}, fmt.Errorf("kms ListKeyRotations key %q: more than 100 pages", keyARN)
}

// newWrappedKey asks KMS for data key id of ring r (a v2 ring) that KMS returns
// only wrapped, bound to the ring id and version.
func (c *clients) newWrappedKey(ctx context.Context, cmkARN string, r *ring, id uint32) (wrappedKey, error) {
	out, err := call(ctx, c, func(ctx context.Context) (*kms.GenerateDataKeyWithoutPlaintextOutput, error) {
		return c.kms.GenerateDataKeyWithoutPlaintext(ctx, &kms.GenerateDataKeyWithoutPlaintextInput{
			KeyId:             aws.String(cmkARN),
			KeySpec:           kmstypes.DataKeySpecAes256,
			EncryptionContext: ringContext(r.RingID, id),
		})
	})
	if err != nil {
		return wrappedKey{}, callError("kms", "GenerateDataKeyWithoutPlaintext",
			fmt.Sprintf("key v%d of ring %s under %q", id, r.RingID, cmkARN), err)
	}
	keyID := aws.ToString(out.KeyId)
	if keyID == "" {
		keyID = cmkARN
	}
	return wrappedKey{ID: id, Created: c.opts.Now().UTC(), Wrapped: out.CiphertextBlob, CMKKeyID: keyID}, nil
}

// seal signs r's metadata as it is now (r must be a v2 ring): one
// GenerateDataKeyWithoutPlaintext under cmkARN whose encryption context holds
// the metadata digest. The rotator needs no decrypt permission for it.
func (c *clients) seal(ctx context.Context, r *ring, cmkARN string) error {
	r.Seal = nil
	out, err := call(ctx, c, func(ctx context.Context) (*kms.GenerateDataKeyWithoutPlaintextOutput, error) {
		return c.kms.GenerateDataKeyWithoutPlaintext(ctx, &kms.GenerateDataKeyWithoutPlaintextInput{
			KeyId:             aws.String(cmkARN),
			KeySpec:           kmstypes.DataKeySpecAes256,
			EncryptionContext: r.sealContext(),
		})
	})
	if err != nil {
		return callError("kms", "GenerateDataKeyWithoutPlaintext", fmt.Sprintf("metadata seal of ring %s under %q", r.RingID, cmkARN), err)
	}
	r.Seal = &metadataSeal{Wrapped: out.CiphertextBlob, CMKKeyID: first(aws.ToString(out.KeyId), cmkARN)}
	return nil
}

// verifySeal checks r's metadata seal with one KMS Decrypt under the context
// recomputed from r: an edited primary, minimum, retired or destroyed list,
// key list or CMK changes the digest, and KMS refuses. v1 rings have no seal.
// The result wraps crypto.ErrMetadataMAC when KMS refuses the ciphertext.
//
// With reencrypt the check is a ReEncrypt to the same CMK and context
// instead, which proves the same without any plaintext leaving KMS: the
// rotator's role may re-encrypt but never decrypt.
func (c *clients) verifySeal(ctx context.Context, r *ring, reencrypt bool) error {
	if r.Format == ringFormatV1 {
		return nil
	}
	ec := r.sealContext()
	var err error
	op := "Decrypt"
	if reencrypt {
		op = "ReEncrypt"
		_, err = call(ctx, c, func(ctx context.Context) (*kms.ReEncryptOutput, error) {
			return c.kms.ReEncrypt(ctx, &kms.ReEncryptInput{
				CiphertextBlob: r.Seal.Wrapped, SourceKeyId: aws.String(r.Seal.CMKKeyID), SourceEncryptionContext: ec,
				DestinationKeyId: aws.String(r.Seal.CMKKeyID), DestinationEncryptionContext: ec,
			})
		})
	} else {
		var out *kms.DecryptOutput
		out, err = call(ctx, c, func(ctx context.Context) (*kms.DecryptOutput, error) {
			return c.kms.Decrypt(ctx, &kms.DecryptInput{
				CiphertextBlob: r.Seal.Wrapped, KeyId: aws.String(r.Seal.CMKKeyID), EncryptionContext: ec,
			})
		})
		if err == nil {
			clear(out.Plaintext)
		}
	}
	if err != nil {
		cerr := callError("kms", op, "metadata seal of ring "+r.RingID, err)
		if errors.Is(cerr, ErrWrongContext) {
			return fmt.Errorf("%w (edited outside fieldseal): %w", crypto.ErrMetadataMAC, cerr)
		}
		return cerr
	}
	return nil
}

// unwrap returns the plaintext data key; the caller must not keep the slice.
// secretName is the secret r was read from (v1 bindings).
func (c *clients) unwrap(ctx context.Context, r *ring, secretName string, k wrappedKey) ([]byte, error) {
	out, err := call(ctx, c, func(ctx context.Context) (*kms.DecryptOutput, error) {
		return c.kms.Decrypt(ctx, &kms.DecryptInput{
			CiphertextBlob:    k.Wrapped,
			KeyId:             aws.String(k.CMKKeyID),
			EncryptionContext: r.keyContext(secretName, k),
		})
	})
	if err != nil {
		return nil, callError("kms", "Decrypt", fmt.Sprintf("key v%d of secret %q", k.ID, secretName), err)
	}
	if len(out.Plaintext) != 32 {
		clear(out.Plaintext)
		return nil, fmt.Errorf("kms Decrypt key v%d of secret %q: %w: data key is %d bytes, want 32",
			k.ID, secretName, ErrMalformedRing, len(out.Plaintext))
	}
	return out.Plaintext, nil
}

// rewrap re-encrypts a wrapped key of v2 ring r under cmkARN inside KMS. A key
// still bound to a secret name (made by ring format v1) moves to the ring id.
func (c *clients) rewrap(ctx context.Context, r *ring, secretName, cmkARN string, k wrappedKey) (wrappedKey, error) {
	src := r.keyContext(secretName, k)
	out, err := call(ctx, c, func(ctx context.Context) (*kms.ReEncryptOutput, error) {
		return c.kms.ReEncrypt(ctx, &kms.ReEncryptInput{
			CiphertextBlob:               k.Wrapped,
			SourceKeyId:                  aws.String(k.CMKKeyID),
			SourceEncryptionContext:      src,
			DestinationKeyId:             aws.String(cmkARN),
			DestinationEncryptionContext: ringContext(r.RingID, k.ID),
		})
	})
	if err != nil {
		return wrappedKey{}, callError("kms", "ReEncrypt", fmt.Sprintf("key v%d of secret %q to %q", k.ID, secretName, cmkARN), err)
	}
	k.Wrapped = out.CiphertextBlob
	k.CMKKeyID = first(aws.ToString(out.KeyId), cmkARN)
	k.Secret = ""
	return k, nil
}

// upgrade turns a v1 ring read from secretName into a v2 ring in place: a new
// ring id, and every existing key keeps its secret-name binding. The caller
// seals it.
func (r *ring) upgrade(secretName string) {
	if r.Format != ringFormatV1 {
		return
	}
	r.Format = ringFormat
	r.RingID = newRingID()
	for i := range r.Keys {
		r.Keys[i].Secret = secretName
	}
}

func isErr(err, target error) bool { return errors.Is(err, target) }
