package awskeys

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/fieldseal/fieldseal/crypto"
)

// Provider serves the key ring to keycache.Cache. It implements crypto.Source and
// crypto.Changer. The cache calls it from one refresh at a time; Provider is
// nevertheless safe for concurrent use.
type Provider struct {
	c *clients

	mu sync.Mutex
	// Learned from the last loaded ring; used by the CMK check.
	cmkARN         string
	rotationSeen   time.Time // the ring's record
	rotationSignal time.Time // newest rotation Changed has already reported
	lastCMKCheck   time.Time
	cmkCheckOff    bool // the endpoint cannot list rotations

	// seen remembers which wrapped form in which ring gave each DataKey
	// still current, so that Load reuses a key only for the same wrapped key
	// (also when several caches share the provider).
	seen map[*crypto.DataKey]keyOrigin
	// bad holds the versions the last Load could not unwrap.
	bad map[uint32]error
	// ringID and sealSeen are the ring id and metadata seal last verified.
	ringID     string
	sealSeen   []byte
	sealDigest string
}

type keyOrigin struct {
	id             uint32
	ringID, secret string
	wrapped        []byte
}

// same reports whether wk of ring r read from secret is the key o describes.
func (o keyOrigin) same(r *ring, secret string, wk wrappedKey) bool {
	return o.id == wk.ID && o.ringID == r.RingID && o.secret == secret && bytes.Equal(o.wrapped, wk.Wrapped)
}

var (
	_ crypto.Source  = (*Provider)(nil)
	_ crypto.Changer = (*Provider)(nil)
)

// New builds a Provider; it loads the AWS configuration but makes no API call.
func New(ctx context.Context, opts Options) (*Provider, error) {
	c, err := newClients(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &Provider{c: c}, nil
}

// Close releases the provider's idle connections. Call it at shutdown, after
// the cache stopped refreshing.
func (p *Provider) Close() { p.c.close() }

// Changed reports whether Load would return a different ring than prev: one
// DescribeSecret comparing the AWSCURRENT version with prev.Revision(), and, once
// per CMK check interval, one ListKeyRotations that reports a CMK rotation newer
// than the ring has followed (once per rotation, so that the cache refreshes and
// records it, without reloading on every check until the rotator catches up).
func (p *Provider) Changed(ctx context.Context, prev *crypto.Keyring) (bool, error) {
	if prev == nil {
		return true, nil
	}
	c := p.c
	out, err := call(ctx, c, func(ctx context.Context) (*secretsmanager.DescribeSecretOutput, error) {
		return c.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(c.opts.SecretID)})
	})
	if err != nil {
		return false, callError("secretsmanager", "DescribeSecret", "secret "+c.secretRef(), err)
	}
	current := ""
	for v, stages := range out.VersionIdsToStages {
		for _, s := range stages {
			if s == "AWSCURRENT" {
				current = v
			}
		}
	}
	if current != prev.Revision() {
		return true, nil
	}
	return p.cmkRotated(ctx)
}

func (p *Provider) cmkRotated(ctx context.Context) (bool, error) {
	interval := p.c.opts.CMKCheckInterval
	if interval <= 0 {
		return false, nil
	}
	p.mu.Lock()
	now := p.c.opts.Now()
	due := p.cmkARN != "" && !p.cmkCheckOff && now.Sub(p.lastCMKCheck) >= interval
	arn := p.cmkARN
	p.mu.Unlock()
	if !due {
		return false, nil
	}
	latest, err := p.c.latestRotation(ctx, arn)
	p.mu.Lock()
	defer p.mu.Unlock()
	// A failed check (throttled, denied) is reported once and retried one
	// interval later, so it does not fail every refresh in between.
	p.lastCMKCheck = now
	if errors.Is(err, ErrUnsupported) {
		// An emulator without ListKeyRotations (local-kms): say so once and stop
		// asking, rather than failing a refresh every interval.
		p.cmkCheckOff = true
		p.c.opts.Logger.Warn().Str("event", "cmk_check_unsupported").Str("cmk", arn).Err(err).
			Msg("the KMS endpoint cannot list key rotations; CMK rotation checks are off")
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !latest.After(p.rotationSeen) || !latest.After(p.rotationSignal) {
		return false, nil
	}
	p.rotationSignal = latest
	p.c.opts.Logger.Warn().Str("event", "cmk_rotation_seen").Str("secret", p.c.opts.SecretID).
		Str("cmk", arn).Time("rotation", latest).
		Msg("KMS reports a CMK rotation the key ring has not followed; run `fieldseal keys rotate --if-cmk-rotated`")
	return true, nil
}

// Load reads the ring (one GetSecretValue), checks its metadata seal (one KMS
// Decrypt when the ring changed) and unwraps, with one KMS Decrypt each and at
// most Options.UnwrapConcurrency at once, the live key versions it does not
// already hold. A key is taken over from prev only when the secret still holds
// the same wrapped form of it in the same ring: a ring made again under the
// same secret name (same version numbers, other keys) is never mixed with the
// old one. A non-primary version that KMS refuses to unwrap (altered wrapped
// key, wrong context) is left out, its values report crypto.ErrUnknownKey and
// Unreadable lists it; a bad primary, or KMS unavailable, fails the load.
// Plaintext keys live only in the returned Keyring.
func (p *Provider) Load(ctx context.Context, prev *crypto.Keyring) (*crypto.Keyring, error) {
	sv, err := p.c.readRing(ctx)
	if err != nil {
		return nil, err
	}
	r := sv.ring
	// The seal is checked again whenever it or the metadata it covers changed.
	var digest string
	if r.Seal != nil {
		digest = r.sealContext()[ContextMetadata]
	}
	p.mu.Lock()
	sealOK := r.Seal != nil && bytes.Equal(p.sealSeen, r.Seal.Wrapped) && p.sealDigest == digest && p.ringID == r.RingID
	p.mu.Unlock()
	if !sealOK {
		if err := p.c.verifySeal(ctx, r, false); err != nil {
			return nil, fmt.Errorf("load key ring of secret %s: %w", strconv.Quote(sv.name), err)
		}
	}

	p.mu.Lock()
	reuse := make(map[uint32]*crypto.DataKey)
	for _, wk := range r.Keys {
		if k, ok := prev.Key(wk.ID); ok {
			if o, ok := p.seen[k]; ok && o.same(r, sv.name, wk) {
				reuse[wk.ID] = k
			}
		}
	}
	p.mu.Unlock()

	type result struct {
		key *crypto.DataKey
		err error
	}
	var todo []wrappedKey
	for _, wk := range r.Keys {
		if r.Live(wk.ID) && reuse[wk.ID] == nil {
			todo = append(todo, wk)
		}
	}
	results := make([]result, len(todo))
	var wg sync.WaitGroup
	sem := make(chan struct{}, p.c.opts.UnwrapConcurrency)
	for i, wk := range todo {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			pt, err := p.c.unwrap(ctx, r, sv.name, wk)
			if err != nil {
				results[i].err = err
				return
			}
			k, err := crypto.NewDataKey(wk.ID, pt, wk.Created)
			clear(pt) // NewDataKey copies
			if err != nil {
				results[i].err = fmt.Errorf("load data key v%d of secret %s: %w", wk.ID, strconv.Quote(sv.name), err)
				return
			}
			results[i].key = k
		}()
	}
	wg.Wait()

	keys := make([]*crypto.DataKey, 0, len(r.Keys))
	fresh := make(map[*crypto.DataKey]keyOrigin, len(todo))
	bad := map[uint32]error{}
	for _, wk := range r.Keys {
		if k := reuse[wk.ID]; k != nil {
			keys = append(keys, k)
		}
	}
	for i, wk := range todo {
		res := results[i]
		if res.err != nil {
			// Only a refusal of this one ciphertext leaves the version out; an
			// outage or denied access fails the load, so the cache keeps the
			// ring it has instead of serving one with holes.
			if wk.ID != r.Primary && wk.ID != r.LookupVersion() && (errors.Is(res.err, ErrWrongContext) || errors.Is(res.err, ErrMalformedRing)) {
				bad[wk.ID] = res.err
				continue
			}
			return nil, res.err
		}
		keys = append(keys, res.key)
		fresh[res.key] = keyOrigin{id: wk.ID, ringID: r.RingID, secret: sv.name, wrapped: wk.Wrapped}
	}
	lc := r.Lifecycle()
	lc.RingID = r.RingID
	kr, err := crypto.NewKeyringLifecycle(keys, r.Primary, sv.versionID, lc)
	if err != nil {
		return nil, fmt.Errorf("load key ring of secret %s version %s: %w", strconv.Quote(sv.name), sv.versionID, err)
	}
	primary, _ := r.key(r.Primary)
	p.mu.Lock()
	if p.cmkARN == "" && p.c.opts.CMKCheckInterval > 0 {
		// The first check comes a random part of one interval after start, so a
		// fleet started together spreads its ListKeyRotations calls (quota: 100/s
		// per account and region) over the whole interval.
		phase := time.Duration(rand.Int64N(int64(p.c.opts.CMKCheckInterval)))
		p.lastCMKCheck = p.c.opts.Now().Add(-phase)
	}
	p.cmkARN = primary.CMKKeyID
	p.rotationSeen = r.CMKRotationSeen
	// Keep the origins that still describe a key of this ring (other
	// caches may hold those keys) and add the new ones.
	for k, o := range p.seen {
		if wk, ok := r.key(o.id); ok && o.same(r, sv.name, wk) {
			fresh[k] = o
		}
	}
	p.seen = fresh
	p.bad = bad
	p.ringID = r.RingID
	p.sealSeen, p.sealDigest = nil, digest
	if r.Seal != nil {
		p.sealSeen = slices.Clone(r.Seal.Wrapped)
	}
	p.mu.Unlock()
	return kr, nil
}

// Unreadable returns the versions the last Load left out because KMS refused
// to unwrap them, with why (no key material in the errors). `fieldseal keys
// verify` shows the same from the command line.
func (p *Provider) Unreadable() map[uint32]error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.bad)
}
