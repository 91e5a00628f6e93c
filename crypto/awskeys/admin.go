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

	"github.com/fieldseal/fieldseal/crypto"
)

// maxWriteAttempts bounds Rotate's read-modify-write loop under contention.
const maxWriteAttempts = 12

// Status describes a key ring without any key material, for `keys status`.
type Status struct {
	Secret          string    `json:"secret"`
	SecretARN       string    `json:"secret_arn"`
	Format          string    `json:"format"`
	RingID          string    `json:"ring_id,omitempty"` // empty for a v1 ring
	MinVersion      uint32    `json:"min_version,omitempty"`
	VersionID       string    `json:"version_id"` // the secret version holding this ring
	CMK             string    `json:"cmk"`
	CMKRotationSeen time.Time `json:"cmk_rotation_seen,omitzero"`
	Primary         uint32    `json:"primary"`
	// Lookup is the version deterministic values are sealed under (the
	// primary when the ring names none).
	Lookup   uint32          `json:"lookup"`
	Versions []VersionStatus `json:"versions"`
	// Rotated reports whether the call that returned this Status added a version.
	Rotated bool `json:"rotated"`
	// Rewrapped lists the key versions re-wrapped under the current CMK.
	Rewrapped []uint32 `json:"rewrapped,omitempty"`
	// Size is the ring secret's size in bytes.
	Size int `json:"size"`
	// Notices are warnings for the operator (a ring close to the secret size limit).
	Notices []string `json:"notices,omitempty"`
}

// VersionStatus is one data key version.
type VersionStatus struct {
	ID       uint32    `json:"id"`
	Created  time.Time `json:"created"`
	CMKKeyID string    `json:"cmk_key_id,omitempty"`
	Primary  bool      `json:"primary"`
	// Retired versions open but never seal.
	Retired bool `json:"retired,omitempty"`
	// Destroyed versions (destroyed, or below the minimum version) do not open.
	Destroyed bool `json:"destroyed,omitempty"`
	// Lookup marks the version deterministic values are sealed under.
	Lookup bool `json:"lookup,omitempty"`
}

func newStatus(sv *secretVersion) *Status {
	r := sv.ring
	s := &Status{
		Secret: sv.name, SecretARN: sv.arn, VersionID: sv.versionID, Format: r.Format, RingID: r.RingID,
		MinVersion: r.MinVersion, CMK: r.CMK, CMKRotationSeen: r.CMKRotationSeen, Primary: r.Primary, Lookup: r.LookupVersion(), Size: sv.size,
	}
	for _, k := range r.Keys {
		s.Versions = append(s.Versions, VersionStatus{ID: k.ID, Created: k.Created, CMKKeyID: k.CMKKeyID, Primary: k.ID == r.Primary,
			Retired: slices.Contains(r.Retired, k.ID), Destroyed: !r.Live(k.ID), Lookup: k.ID == s.Lookup})
	}
	for _, id := range r.Destroyed {
		s.Versions = append(s.Versions, VersionStatus{ID: id, Retired: slices.Contains(r.Retired, id), Destroyed: true})
	}
	slices.SortFunc(s.Versions, func(a, b VersionStatus) int { return int(a.ID) - int(b.ID) })
	return s
}

// WriteText prints the status for people: one line per version with its age.
func (s *Status) WriteText(w io.Writer, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "secret:\t%s (version %s, %d bytes)\n", s.Secret, s.VersionID, s.Size)
	fmt.Fprintf(tw, "ring:\t%s (%s)\n", first(s.RingID, "none: v1 ring, upgraded by the next change"), s.Format)
	fmt.Fprintf(tw, "cmk:\t%s\n", s.CMK)
	seen := "none"
	if !s.CMKRotationSeen.IsZero() {
		seen = s.CMKRotationSeen.Format(time.RFC3339)
	}
	fmt.Fprintf(tw, "cmk rotation followed:\t%s\n", seen)
	fmt.Fprintf(tw, "primary:\tv%d\n", s.Primary)
	fmt.Fprintf(tw, "lookup:\tv%d (deterministic values)\n", s.Lookup)
	if s.MinVersion > 1 {
		fmt.Fprintf(tw, "minimum version:\tv%d (versions below it do not open)\n", s.MinVersion)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "VERSION\tCREATED\tAGE\tWRAPPED UNDER\tPRIMARY\tSTATE")
	for _, v := range s.Versions {
		mark, state := "", ""
		if v.Primary {
			mark = "*"
		}
		switch {
		case v.Destroyed:
			state = "destroyed"
		case v.Retired:
			state = "retired"
		}
		if v.Created.IsZero() {
			fmt.Fprintf(tw, "v%d\t-\t-\t-\t\t%s\n", v.ID, state)
			continue
		}
		fmt.Fprintf(tw, "v%d\t%s\t%s\t%s\t%s\t%s\n", v.ID, v.Created.Format(time.RFC3339),
			now.Sub(v.Created).Truncate(time.Second), v.CMKKeyID, mark, state)
	}
	for _, n := range s.Notices {
		fmt.Fprintf(tw, "warning:\t%s\n", n)
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
	r := &ring{Format: ringFormat, RingID: newRingID(), CMK: opts.KMSKeyID, RingVersions: crypto.RingVersions{Primary: 1},
		CMKRotationSeen: seen, CMKKeyMaterial: cmk.keyMaterial}
	k, err := c.newWrappedKey(ctx, cmk.arn, r, 1)
	if err != nil {
		return nil, err
	}
	r.Keys = []wrappedKey{k}
	if err := c.seal(ctx, r, cmk.arn); err != nil {
		return nil, err
	}
	// The version id comes from the random ring id: a ring made again in a
	// secret of the same name (after a forced deletion) gets another version
	// id, so running sidecars see the change instead of keeping the old keys.
	body, err := r.marshal()
	if err != nil {
		return nil, fmt.Errorf("init aws key ring in secret %q: encode: %w", name, err)
	}
	return c.create(ctx, "init", name, r, body, requestToken("init:"+r.RingID, 1))
}

// create writes r as the first version of a new secret name, after the size
// check. It refuses (ErrRingExists) when the secret exists.
// body is r's JSON (a restore writes the backed-up bytes unchanged).
func (c *clients) create(ctx context.Context, what, name string, r *ring, body, token string) (*Status, error) {
	notices, err := c.checkSize(what, name, body)
	if err != nil {
		return nil, err
	}
	if c.opts.BeforeWrite != nil {
		next := newStatus(&secretVersion{name: name, versionID: token, ring: r, size: len(body)})
		if err := c.opts.BeforeWrite(ctx, nil, next); err != nil {
			return nil, fmt.Errorf("%s aws key ring in secret %q: %w", what, name, err)
		}
	}
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
			return nil, fmt.Errorf("%s aws key ring in secret %q: %w", what, name, ErrRingExists)
		}
		return nil, callError("secretsmanager", "CreateSecret", "secret "+strconv.Quote(name), err)
	}
	st := newStatus(&secretVersion{name: aws.ToString(out.Name), arn: aws.ToString(out.ARN),
		versionID: aws.ToString(out.VersionId), ring: r, size: len(body)})
	st.Notices = notices
	return st, nil
}

// Rotate adds data key version max+1, wrapped under opts.KMSKeyID when set (else
// the ring's CMK), and makes it primary. It is safe to run from many places at
// once: see requestToken; every successful call adds exactly one version and no
// version written by another caller is lost.
func Rotate(ctx context.Context, opts Options) (*Status, error) {
	return RotateIf(ctx, opts, func(crypto.KeyInfo) bool { return true })
}

// RotateIf is Rotate when rotate, given the primary version of the ring as
// it is in the secret, returns true; otherwise it changes nothing and
// returns the ring's Status with Rotated false. rotate is asked again on
// every attempt of the read-modify-write loop, so racing callers with the
// same condition add one version between them: the losers re-read the
// winner's ring and find the condition gone ("primary older than 90 days",
// or "primary still v3" for a sidecar that sealed its max_seals under v3).
func RotateIf(ctx context.Context, opts Options, rotate func(primary crypto.KeyInfo) bool) (*Status, error) {
	c, err := newClients(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer c.close()
	var cmk cmkInfo
	return c.update(ctx, "rotate", func(ctx context.Context, sv *secretVersion, r *ring) (bool, []uint32, error) {
		p, _ := sv.ring.key(sv.ring.Primary)
		if !rotate(crypto.KeyInfo{ID: p.ID, Created: p.Created, Primary: true}) {
			return false, nil, nil
		}
		if cmk.arn == "" {
			if cmk, err = c.describeKey(ctx, first(opts.KMSKeyID, sv.ring.CMK)); err != nil {
				return false, nil, err
			}
		}
		if err := c.addPrimary(ctx, r, cmk.arn, opts.KMSKeyID); err != nil {
			return false, nil, err
		}
		return true, nil, nil
	})
}

// addPrimary adds data key version max+1 to r, wrapped under the CMK cmkARN,
// and makes it primary; max is the highest id of r or of any version of the
// secret still kept for r's ring (highestIssued), so no id is issued twice.
// A non-empty cmkName (Options.KMSKeyID) becomes the name the ring records
// for its CMK. The lookup version stays: a ring that names none gets the
// primary it replaces (RotateLookup moves it).
func (c *clients) addPrimary(ctx context.Context, r *ring, cmkARN, cmkName string) error {
	issued, err := c.highestIssued(ctx, r.RingID)
	if err != nil {
		return fmt.Errorf("rotate key ring in secret %s: %w", c.secretRef(), err)
	}
	id, err := crypto.NextID(max(r.maxID(), issued))
	if err != nil {
		return fmt.Errorf("rotate key ring in secret %s: %w", c.secretRef(), err)
	}
	k, err := c.newWrappedKey(ctx, cmkARN, r, id)
	if err != nil {
		return err
	}
	r.Keys = append(r.Keys, k)
	if r.Lookup == 0 {
		r.Lookup = r.Primary
	}
	r.Primary = id
	if cmkName != "" {
		r.CMK = cmkName
	}
	return nil
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
	return c.update(ctx, "rotate if cmk rotated", func(ctx context.Context, sv *secretVersion, r *ring) (bool, []uint32, error) {
		cmk, err := c.describeKey(ctx, first(opts.KMSKeyID, sv.ring.CMK))
		if err != nil {
			return false, nil, err
		}
		old := sv.ring
		changed := slices.ContainsFunc(old.Keys, func(k wrappedKey) bool { return k.CMKKeyID != cmk.arn }) ||
			(cmk.keyMaterial != "" && old.CMKKeyMaterial != "" && cmk.keyMaterial != old.CMKKeyMaterial)
		latest, err := c.latestRotation(ctx, cmk.arn)
		switch {
		case errors.Is(err, ErrUnsupported) && !changed:
			return false, nil, fmt.Errorf("cannot tell whether the cmk rotated: %w", err)
		case err != nil && !errors.Is(err, ErrUnsupported):
			return false, nil, err
		}
		if latest.After(old.CMKRotationSeen) {
			changed = true
		}
		if !changed {
			return false, nil, nil
		}
		var rewrapped []uint32
		for i, k := range r.Keys {
			if r.Keys[i], err = c.rewrap(ctx, r, sv.name, cmk.arn, k); err != nil {
				return false, nil, err
			}
			rewrapped = append(rewrapped, k.ID)
		}
		if err := c.addPrimary(ctx, r, cmk.arn, opts.KMSKeyID); err != nil {
			return false, nil, err
		}
		if latest.After(r.CMKRotationSeen) { // zero when the endpoint cannot list rotations
			r.CMKRotationSeen = latest
		}
		r.CMKKeyMaterial = cmk.keyMaterial
		return true, rewrapped, nil
	})
}

// ReadStatus reads the ring and describes it; it makes no KMS call.
func ReadStatus(ctx context.Context, opts Options) (*Status, error) {
	return withRing(ctx, opts, "", func(_ *clients, sv *secretVersion) (*Status, error) {
		return newStatus(sv), nil
	})
}

// withRing opens the clients for opts, reads the current ring and runs fn
// with both; the clients are closed when fn returns. A failed read is
// wrapped with op unless op is "".
func withRing[T any](ctx context.Context, opts Options, op string, fn func(*clients, *secretVersion) (T, error)) (T, error) {
	var zero T
	c, err := newClients(ctx, opts)
	if err != nil {
		return zero, err
	}
	defer c.close()
	sv, err := c.readRing(ctx)
	if err != nil {
		if op != "" {
			err = fmt.Errorf("%s: %w", op, err)
		}
		return zero, err
	}
	return fn(c, sv)
}

// mutation changes next, a copy of the current ring already upgraded to ring
// format v2, into the child to write; changed false means "nothing to do".
// The token scheme admits one child per parent, so mutations from the same
// parent collide and the loser starts again from the winner's ring.
type mutation func(ctx context.Context, sv *secretVersion, next *ring) (changed bool, rewrapped []uint32, err error)

// update is the optimistic read-modify-write loop shared by every change:
// read AWSCURRENT, check its metadata seal (a ring edited outside fieldseal is
// never built on), build the child, seal it, check its size, write it with the
// token derived from (parent, next id), re-read, and retry when another writer
// got there first or the written change is not part of the current ring.
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
		if err := c.verifySeal(ctx, sv.ring, true); err != nil {
			return nil, fmt.Errorf("%s key ring in secret %s: %w", what, c.secretRef(), err)
		}
		next := sv.ring.clone()
		next.upgrade(sv.name)
		changed, rewrapped, err := mutate(ctx, sv, next)
		if err != nil {
			return nil, err
		}
		if !changed {
			return newStatus(sv), nil
		}
		primary, _ := next.key(next.Primary)
		if err := c.seal(ctx, next, primary.CMKKeyID); err != nil {
			return nil, err
		}
		body, err := next.marshal()
		if err != nil {
			return nil, fmt.Errorf("%s key ring in secret %s: encode: %w", what, c.secretRef(), err)
		}
		notices, err := c.checkSize(what, sv.name, body)
		if err != nil {
			return nil, err
		}
		token := requestToken(sv.versionID, sv.ring.maxID()+1)
		if c.opts.BeforeWrite != nil {
			st := newStatus(&secretVersion{name: sv.name, arn: sv.arn, versionID: token, ring: next, size: len(body)})
			if err := c.opts.BeforeWrite(ctx, newStatus(sv), st); err != nil {
				return nil, fmt.Errorf("%s key ring in secret %s: %w", what, c.secretRef(), err)
			}
		}
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
		// Verify: the current ring must hold our change. If it does not, a
		// writer that bypassed the token scheme replaced our version; try again.
		cur, err := c.readRing(ctx)
		if err != nil {
			return nil, err
		}
		if cur.versionID != token && !includes(cur.ring, next) {
			continue
		}
		st := newStatus(&secretVersion{name: sv.name, arn: sv.arn, versionID: token, ring: next, size: len(body)})
		st.Rotated = next.Primary != sv.ring.Primary
		st.Rewrapped = rewrapped
		st.Notices = notices
		return st, nil
	}
	return nil, fmt.Errorf("%s key ring in secret %s: %w (%d attempts)", what, c.secretRef(), ErrConflict, maxWriteAttempts)
}

// includes reports whether have holds the change that produced want: every
// key version of want (or its later destruction), and want's retired and
// destroyed versions.
func includes(have, want *ring) bool {
	for _, w := range want.Keys {
		if !containsAll(have, &ring{Keys: []wrappedKey{w}}) && !slices.Contains(have.Destroyed, w.ID) {
			return false
		}
	}
	for _, id := range want.Retired {
		if !slices.Contains(have.Retired, id) && !slices.Contains(have.Destroyed, id) {
			return false
		}
	}
	for _, id := range want.Destroyed {
		if !slices.Contains(have.Destroyed, id) {
			return false
		}
	}
	return true
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
