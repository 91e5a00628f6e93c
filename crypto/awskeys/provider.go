package awskeys

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
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

// Load reads the ring (one GetSecretValue) and unwraps, with one KMS Decrypt each,
// only the key versions prev does not already hold. Plaintext keys live only in
// the returned Keyring.
func (p *Provider) Load(ctx context.Context, prev *crypto.Keyring) (*crypto.Keyring, error) {
	sv, err := p.c.readRing(ctx)
	if err != nil {
		return nil, err
	}
	keys := make([]*crypto.DataKey, 0, len(sv.ring.Keys))
	for _, wk := range sv.ring.Keys {
		if prev != nil {
			if k, ok := prev.Key(wk.ID); ok {
				keys = append(keys, k)
				continue
			}
		}
		pt, err := p.c.unwrap(ctx, sv.name, wk)
		if err != nil {
			return nil, err
		}
		k, err := crypto.NewDataKey(wk.ID, pt, wk.Created)
		clear(pt) // NewDataKey copies
		if err != nil {
			return nil, fmt.Errorf("load data key v%d of secret %s: %w", wk.ID, strconv.Quote(sv.name), err)
		}
		keys = append(keys, k)
	}
	kr, err := crypto.NewKeyring(keys, sv.ring.Primary, sv.versionID)
	if err != nil {
		return nil, fmt.Errorf("load key ring of secret %s version %s: %w", strconv.Quote(sv.name), sv.versionID, err)
	}
	primary, _ := sv.ring.key(sv.ring.Primary)
	p.mu.Lock()
	if p.cmkARN == "" && p.c.opts.CMKCheckInterval > 0 {
		// The first check comes a random part of one interval after start, so a
		// fleet started together spreads its ListKeyRotations calls (quota: 100/s
		// per account and region) over the whole interval.
		phase := time.Duration(rand.Int64N(int64(p.c.opts.CMKCheckInterval)))
		p.lastCMKCheck = p.c.opts.Now().Add(-phase)
	}
	p.cmkARN = primary.CMKKeyID
	p.rotationSeen = sv.ring.CMKRotationSeen
	p.mu.Unlock()
	return kr, nil
}
