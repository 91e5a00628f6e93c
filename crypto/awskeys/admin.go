package awskeys

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"
)

// maxWriteAttempts bounds Rotate's read-modify-write loop under contention.
const maxWriteAttempts = 12

// Status describes a key ring without any key material, for `keys status`.
type Status struct {
	Secret          string          `json:"secret"`
	SecretARN       string          `json:"secret_arn"`
	VersionID       string          `json:"version_id"` // the secret version holding this ring
	CMK             string          `json:"cmk"`
	CMKRotationSeen time.Time       `json:"cmk_rotation_seen,omitzero"`
	Primary         uint32          `json:"primary"`
	Versions        []VersionStatus `json:"versions"`
	// Rotated reports whether the call that returned this Status added a version.
	Rotated bool `json:"rotated"`
	// Rewrapped lists the key versions re-wrapped under the current CMK.
	Rewrapped []uint32 `json:"rewrapped,omitempty"`
}

// VersionStatus is one data key version.
type VersionStatus struct {
	ID       uint32    `json:"id"`
	Created  time.Time `json:"created"`
	CMKKeyID string    `json:"cmk_key_id"`
	Primary  bool      `json:"primary"`
}

func newStatus(sv *secretVersion) *Status {
	s := &Status{
		Secret: sv.name, SecretARN: sv.arn, VersionID: sv.versionID,
		CMK: sv.ring.CMK, CMKRotationSeen: sv.ring.CMKRotationSeen, Primary: sv.ring.Primary,
	}
	for _, k := range sv.ring.Keys {
		s.Versions = append(s.Versions, VersionStatus{ID: k.ID, Created: k.Created, CMKKeyID: k.CMKKeyID, Primary: k.ID == sv.ring.Primary})
	}
	slices.SortFunc(s.Versions, func(a, b VersionStatus) int { return int(a.ID) - int(b.ID) })
	return s
}

// WriteText prints the status for people: one line per version with its age.
func (s *Status) WriteText(w io.Writer, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "secret:\t%s (version %s)\n", s.Secret, s.VersionID)
	fmt.Fprintf(tw, "cmk:\t%s\n", s.CMK)
	seen := "none"
	if !s.CMKRotationSeen.IsZero() {
		seen = s.CMKRotationSeen.Format(time.RFC3339)
	}
	fmt.Fprintf(tw, "cmk rotation followed:\t%s\n", seen)
	fmt.Fprintf(tw, "primary:\tv%d\n\n", s.Primary)
	fmt.Fprintln(tw, "VERSION\tCREATED\tAGE\tWRAPPED UNDER\tPRIMARY")
	for _, v := range s.Versions {
		mark := ""
		if v.Primary {
			mark = "*"
		}
		fmt.Fprintf(tw, "v%d\t%s\t%s\t%s\t%s\n", v.ID, v.Created.Format(time.RFC3339),
			now.Sub(v.Created).Truncate(time.Second), v.CMKKeyID, mark)
	}
	return tw.Flush()
}

// Init creates the key ring: data key v1 from KMS GenerateDataKeyWithoutPlaintext
// under opts.KMSKeyID, stored in a new secret opts.SecretID. It refuses (ErrRingExists)
// when the secret already exists, whatever it holds.
func Init(ctx context.Context, opts Options) (*Status, error) {
	if opts.KMSKeyID == "" {
		return nil, errors.New("init aws key ring: kms key id is required")
	}
	c, err := newClients(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer c.close()
	name := opts.SecretID
	// Check first so that an existing ring is reported before any KMS call.
	_, err = call(ctx, c, func(ctx context.Context) (*secretsmanager.DescribeSecretOutput, error) {
		return c.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
	})
	switch {
	case err == nil:
		return nil, fmt.Errorf("init aws key ring in secret %q: %w", name, ErrRingExists)
	case !isErr(classify(err), ErrNotFound):
		return nil, callError("secretsmanager", "DescribeSecret", "secret "+strconv.Quote(name), err)
	}
	cmk, err := c.describeKey(ctx, opts.KMSKeyID)
	if err != nil {
		return nil, err
	}
	seen, err := c.latestRotation(ctx, cmk.arn)
	if err != nil && !errors.Is(err, ErrUnsupported) {
		return nil, err
	}
	k, err := c.newWrappedKey(ctx, cmk.arn, name, 1)
	if err != nil {
		return nil, err
	}
	r := &ring{Format: ringFormat, CMK: opts.KMSKeyID, Primary: 1, Keys: []wrappedKey{k},
		CMKRotationSeen: seen, CMKKeyMaterial: cmk.keyMaterial}
	body, err := r.marshal()
	if err != nil {
		return nil, fmt.Errorf("init aws key ring in secret %q: encode: %w", name, err)
	}
	// A token derived from the name makes concurrent inits collide instead of
	// both succeeding with different rings.
	token := requestToken("init:"+name, 1)
	out, err := call(ctx, c, func(ctx context.Context) (*secretsmanager.CreateSecretOutput, error) {
		return c.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
			Name:               aws.String(name),
			SecretString:       aws.String(body),
			ClientRequestToken: aws.String(token),
			Description:        aws.String("fieldseal key ring: data keys wrapped by KMS (no plaintext keys)"),
		})
	})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "ResourceExistsException" {
			return nil, fmt.Errorf("init aws key ring in secret %q: %w", name, ErrRingExists)
		}
		return nil, callError("secretsmanager", "CreateSecret", "secret "+strconv.Quote(name), err)
	}
	return newStatus(&secretVersion{name: aws.ToString(out.Name), arn: aws.ToString(out.ARN),
		versionID: aws.ToString(out.VersionId), ring: r}), nil
}

// Rotate adds data key version max+1, wrapped under opts.KMSKeyID when set (else
// the ring's CMK), and makes it primary. It is safe to run from many places at
// once: see requestToken; every successful call adds exactly one version and no
// version written by another caller is lost.
func Rotate(ctx context.Context, opts Options) (*Status, error) {
	c, err := newClients(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer c.close()
	var cmk cmkInfo
	return c.update(ctx, "rotate", func(ctx context.Context, sv *secretVersion) (*ring, []uint32, error) {
		if cmk.arn == "" {
			if cmk, err = c.describeKey(ctx, first(opts.KMSKeyID, sv.ring.CMK)); err != nil {
				return nil, nil, err
			}
		}
		r := sv.ring.clone()
		id := r.maxID() + 1
		k, err := c.newWrappedKey(ctx, cmk.arn, sv.name, id)
		if err != nil {
			return nil, nil, err
		}
		r.Keys = append(r.Keys, k)
		r.Primary = id
		if opts.KMSKeyID != "" {
			r.CMK = opts.KMSKeyID
		}
		return r, nil, nil
	})
}

// RotateIfCMKRotated rotates only when the CMK changed since the ring last
// followed it: KMS lists a rotation (automatic or on demand) newer than the ring's
// record, reports another current key material, or the CMK name now resolves to
// another key (alias moved, or opts.KMSKeyID names a new key). Every wrapped key
// is first re-wrapped under the current CMK (KMS ReEncrypt, same encryption
// context), then a new version is added. The returned Status has Rotated false when
// nothing changed. Concurrent callers converge: after one of them has written, the
// others find the ring up to date.
//
// When the endpoint does not implement ListKeyRotations (local-kms), only the
// DescribeKey signs are available; if they show no change the error wraps
// ErrUnsupported rather than claiming the CMK did not rotate.
func RotateIfCMKRotated(ctx context.Context, opts Options) (*Status, error) {
	c, err := newClients(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer c.close()
	return c.update(ctx, "rotate if cmk rotated", func(ctx context.Context, sv *secretVersion) (*ring, []uint32, error) {
		cmk, err := c.describeKey(ctx, first(opts.KMSKeyID, sv.ring.CMK))
		if err != nil {
			return nil, nil, err
		}
		old := sv.ring
		changed := slices.ContainsFunc(old.Keys, func(k wrappedKey) bool { return k.CMKKeyID != cmk.arn }) ||
			(cmk.keyMaterial != "" && old.CMKKeyMaterial != "" && cmk.keyMaterial != old.CMKKeyMaterial)
		latest, err := c.latestRotation(ctx, cmk.arn)
		switch {
		case errors.Is(err, ErrUnsupported) && !changed:
			return nil, nil, fmt.Errorf("cannot tell whether the cmk rotated: %w", err)
		case err != nil && !errors.Is(err, ErrUnsupported):
			return nil, nil, err
		}
		if latest.After(old.CMKRotationSeen) {
			changed = true
		}
		if !changed {
			return nil, nil, nil
		}
		r := old.clone()
		var rewrapped []uint32
		for i, k := range r.Keys {
			if r.Keys[i], err = c.rewrap(ctx, sv.name, cmk.arn, k); err != nil {
				return nil, nil, err
			}
			rewrapped = append(rewrapped, k.ID)
		}
		id := r.maxID() + 1
		k, err := c.newWrappedKey(ctx, cmk.arn, sv.name, id)
		if err != nil {
			return nil, nil, err
		}
		r.Keys = append(r.Keys, k)
		r.Primary = id
		if latest.After(r.CMKRotationSeen) { // zero when the endpoint cannot list rotations
			r.CMKRotationSeen = latest
		}
		r.CMKKeyMaterial = cmk.keyMaterial
		if opts.KMSKeyID != "" {
			r.CMK = opts.KMSKeyID
		}
		return r, rewrapped, nil
	})
}

// ReadStatus reads the ring and describes it; it makes no KMS call.
func ReadStatus(ctx context.Context, opts Options) (*Status, error) {
	c, err := newClients(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer c.close()
	sv, err := c.readRing(ctx)
	if err != nil {
		return nil, err
	}
	return newStatus(sv), nil
}

// mutation builds the child ring from the current one; a nil ring means "nothing
// to do". It must add exactly one key (the new primary) to the ring it is given.
type mutation func(ctx context.Context, sv *secretVersion) (*ring, []uint32, error)

// update is the optimistic read-modify-write loop shared by the rotations:
// read AWSCURRENT, build the child, write it with the token derived from (parent,
// new id), re-read, and retry when another writer got there first or the written
// version is not part of the current ring.
func (c *clients) update(ctx context.Context, what string, mutate mutation) (*Status, error) {
	for attempt := 0; attempt < maxWriteAttempts; attempt++ {
		if attempt > 0 {
			// Jitter spreads colliding writers so that they do not collide again.
			d := time.Duration(rand.Int64N(int64(50*time.Millisecond) << min(attempt, 4)))
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("%s key ring in secret %s: %w", what, c.secretRef(), ctx.Err())
			case <-time.After(d):
			}
		}
		sv, err := c.readRing(ctx)
		if err != nil {
			return nil, err
		}
		next, rewrapped, err := mutate(ctx, sv)
		if err != nil {
			return nil, err
		}
		if next == nil {
			return newStatus(sv), nil
		}
		body, err := next.marshal()
		if err != nil {
			return nil, fmt.Errorf("%s key ring in secret %s: encode: %w", what, c.secretRef(), err)
		}
		token := requestToken(sv.versionID, next.Primary)
		_, err = call(ctx, c, func(ctx context.Context) (*secretsmanager.PutSecretValueOutput, error) {
			return c.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
				SecretId: aws.String(sv.arn), SecretString: aws.String(body), ClientRequestToken: aws.String(token),
			})
		})
		if err != nil {
			var ae smithy.APIError
			if errors.As(err, &ae) && ae.ErrorCode() == "ResourceExistsException" {
				continue // another writer already wrote the child of this parent
			}
			return nil, callError("secretsmanager", "PutSecretValue", "secret "+c.secretRef(), err)
		}
		// Verify: the current ring must contain every key we wrote. If it does not,
		// a writer that bypassed the token scheme replaced our version; try again.
		cur, err := c.readRing(ctx)
		if err != nil {
			return nil, err
		}
		if !containsAll(cur.ring, next) {
			continue
		}
		st := newStatus(&secretVersion{name: sv.name, arn: sv.arn, versionID: token, ring: next})
		st.Rotated = true
		st.Rewrapped = rewrapped
		return st, nil
	}
	return nil, fmt.Errorf("%s key ring in secret %s: %w (%d attempts)", what, c.secretRef(), ErrConflict, maxWriteAttempts)
}

// containsAll reports whether every key version of want is in have. A later
// re-wrap may change a key's wrapping, so versions are compared by id and
// creation time (nanoseconds, so two writers never share it).
func containsAll(have, want *ring) bool {
	for _, w := range want.Keys {
		h, ok := have.key(w.ID)
		if !ok || !h.Created.Equal(w.Created) {
			return false
		}
	}
	return true
}
