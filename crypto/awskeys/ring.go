package awskeys

import (
	"context"
	"crypto/sha256"
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
)

// ringFormat identifies the secret's JSON layout; a reader refuses other formats.
const ringFormat = "fieldseal.aws-ring/v1"

// Encryption context keys bound to every wrapped data key.
const (
	ContextSecret  = "fieldseal:secret"
	ContextVersion = "fieldseal:version"
)

// ring is the secret's JSON: wrapped data keys and where they came from. It holds
// no plaintext key material.
type ring struct {
	Format string `json:"format"`
	// CMK is the KMS key as the operator named it at Init (alias or id); Rotate
	// wraps new keys under what it resolves to now.
	CMK     string       `json:"cmk"`
	Primary uint32       `json:"primary"`
	Keys    []wrappedKey `json:"keys"`
	// CMKRotationSeen is the date of the newest CMK rotation (ListKeyRotations)
	// the ring has followed; zero when none was seen or the endpoint cannot tell.
	CMKRotationSeen time.Time `json:"cmk_rotation_seen,omitzero"`
	// CMKKeyMaterial is the CMK's current key material id when KMS reports it
	// (DescribeKey CurrentKeyMaterialId), a second sign of rotation.
	CMKKeyMaterial string `json:"cmk_key_material,omitempty"`
}

type wrappedKey struct {
	ID       uint32    `json:"id"`
	Created  time.Time `json:"created"`
	Wrapped  []byte    `json:"wrapped"` // KMS ciphertext blob, base64 in JSON
	CMKKeyID string    `json:"cmk_key_id"`
}

func parseRing(data []byte) (*ring, error) {
	var r ring
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedRing, err)
	}
	if r.Format != ringFormat {
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
		}
		seen[k.ID] = true
	}
	if !seen[r.Primary] {
		return nil, fmt.Errorf("%w: primary v%d is not in the ring", ErrMalformedRing, r.Primary)
	}
	return &r, nil
}

func (r *ring) marshal() (string, error) {
	b, err := json.Marshal(r)
	return string(b), err
}

func (r *ring) maxID() uint32 {
	var m uint32
	for _, k := range r.Keys {
		m = max(m, k.ID)
	}
	return m
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
	return &c
}

// encryptionContext binds a wrapped key to its secret and version: KMS refuses to
// unwrap it under any other pair, so a wrapped key copied into another ring or slot
// does not open, and IAM can restrict kms:Decrypt to one secret.
func encryptionContext(secretName string, id uint32) map[string]string {
	return map[string]string{ContextSecret: secretName, ContextVersion: strconv.FormatUint(uint64(id), 10)}
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
	return &secretVersion{name: aws.ToString(out.Name), arn: aws.ToString(out.ARN), versionID: aws.ToString(out.VersionId), ring: r}, nil
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

// newWrappedKey asks KMS for a data key it returns only wrapped.
func (c *clients) newWrappedKey(ctx context.Context, cmkARN, secretName string, id uint32) (wrappedKey, error) {
	out, err := call(ctx, c, func(ctx context.Context) (*kms.GenerateDataKeyWithoutPlaintextOutput, error) {
		return c.kms.GenerateDataKeyWithoutPlaintext(ctx, &kms.GenerateDataKeyWithoutPlaintextInput{
			KeyId:             aws.String(cmkARN),
			KeySpec:           kmstypes.DataKeySpecAes256,
			EncryptionContext: encryptionContext(secretName, id),
		})
	})
	if err != nil {
		return wrappedKey{}, callError("kms", "GenerateDataKeyWithoutPlaintext",
			fmt.Sprintf("key v%d of secret %q under %q", id, secretName, cmkARN), err)
	}
	keyID := aws.ToString(out.KeyId)
	if keyID == "" {
		keyID = cmkARN
	}
	return wrappedKey{ID: id, Created: c.opts.Now().UTC(), Wrapped: out.CiphertextBlob, CMKKeyID: keyID}, nil
}

// unwrap returns the plaintext data key; the caller must not keep the slice.
func (c *clients) unwrap(ctx context.Context, secretName string, k wrappedKey) ([]byte, error) {
	out, err := call(ctx, c, func(ctx context.Context) (*kms.DecryptOutput, error) {
		return c.kms.Decrypt(ctx, &kms.DecryptInput{
			CiphertextBlob:    k.Wrapped,
			KeyId:             aws.String(k.CMKKeyID),
			EncryptionContext: encryptionContext(secretName, k.ID),
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

// rewrap re-encrypts a wrapped key under cmkARN inside KMS, with the same context.
func (c *clients) rewrap(ctx context.Context, secretName, cmkARN string, k wrappedKey) (wrappedKey, error) {
	ec := encryptionContext(secretName, k.ID)
	out, err := call(ctx, c, func(ctx context.Context) (*kms.ReEncryptOutput, error) {
		return c.kms.ReEncrypt(ctx, &kms.ReEncryptInput{
			CiphertextBlob:               k.Wrapped,
			SourceKeyId:                  aws.String(k.CMKKeyID),
			SourceEncryptionContext:      ec,
			DestinationKeyId:             aws.String(cmkARN),
			DestinationEncryptionContext: ec,
		})
	})
	if err != nil {
		return wrappedKey{}, callError("kms", "ReEncrypt", fmt.Sprintf("key v%d of secret %q to %q", k.ID, secretName, cmkARN), err)
	}
	k.Wrapped = out.CiphertextBlob
	k.CMKKeyID = first(aws.ToString(out.KeyId), cmkARN)
	return k, nil
}

func isErr(err, target error) bool { return errors.Is(err, target) }
