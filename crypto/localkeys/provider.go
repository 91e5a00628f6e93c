package localkeys

import (
	"context"
	"fmt"
	"maps"
	"os"
	"sync"
	"time"

	"github.com/fieldseal/fieldseal/crypto"
)

// Provider loads the ring file into crypto key rings. It implements
// crypto.Source and crypto.Changer and is safe for concurrent use.
type Provider struct {
	path string
	mk   MasterKey

	mu sync.Mutex
	// seen remembers, per key id, which wrapped text gave which DataKey, so
	// a reload reuses a key from prev only when the file still holds the
	// same wrapped key of the same ring (a new ring may reuse an id for a
	// different key).
	seen map[uint32]seenKey
	// bad holds the versions the last Load could not unwrap (not the
	// primary, which fails the load).
	bad map[uint32]error
}

type seenKey struct {
	ringID, wrapped string
	key             *crypto.DataKey
}

// New returns a provider for the ring file at path. It reads nothing yet.
func New(path string, mk MasterKey) *Provider {
	return &Provider{path: path, mk: mk, seen: map[uint32]seenKey{}}
}

// Load reads the ring file and returns its key ring, whose Revision is the
// SHA-256 of the file. It checks the metadata MAC first (a ring whose
// primary or lifecycle was edited is refused). Keys already unwrapped for
// prev are reused only when the file still holds the same wrapped key of
// the same ring; only new versions are unwrapped. A non-primary version
// that does not unwrap is left out (its values report crypto.ErrUnknownKey)
// and listed by Unreadable, so one bad version does not block the others;
// a bad primary fails the load.
func (p *Provider) Load(ctx context.Context, prev *crypto.Keyring) (*crypto.Keyring, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if p.mk.wrap == nil {
		return nil, fmt.Errorf("load key ring %q: %w", p.path, ErrNoMasterKey)
	}
	data, rf, err := readRing(p.path)
	if err != nil {
		return nil, err
	}
	if err := rf.verify(p.mk); err != nil {
		return nil, fmt.Errorf("load key ring %q: %w", p.path, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	keys := make([]*crypto.DataKey, 0, len(rf.Keys))
	seen := make(map[uint32]seenKey, len(rf.Keys))
	bad := map[uint32]error{}
	for _, w := range rf.Keys {
		if !rf.Live(w.ID) {
			continue
		}
		if k, ok := prev.Key(w.ID); ok {
			if s, ok := p.seen[w.ID]; ok && s.key == k && s.ringID == rf.RingID && s.wrapped == w.Wrapped {
				keys = append(keys, k)
				seen[w.ID] = s
				continue
			}
		}
		raw, err := rf.unwrap(p.mk, w)
		if err != nil && w.ID != rf.Primary && w.ID != rf.LookupVersion() {
			bad[w.ID] = err
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("load key ring %q: %w", p.path, err)
		}
		created, _ := time.Parse(time.RFC3339, w.Created) // checked by parseRing
		k, err := crypto.NewDataKey(w.ID, raw, created)
		clear(raw)
		if err != nil {
			return nil, fmt.Errorf("load key ring %q: %w", p.path, err)
		}
		seen[w.ID] = seenKey{ringID: rf.RingID, wrapped: w.Wrapped, key: k}
		keys = append(keys, k)
	}
	lc := rf.Lifecycle()
	lc.RingID = rf.RingID
	ring, err := crypto.NewKeyringLifecycle(keys, rf.Primary, revision(data), lc)
	if err != nil {
		return nil, fmt.Errorf("load key ring %q: %w", p.path, err)
	}
	p.seen = seen // forget versions no longer in the file
	p.bad = bad
	return ring, nil
}

// Unreadable returns the versions the last Load left out because they did
// not unwrap, with why (no key material in the errors). Run `fieldseal keys
// verify` to see the same from the command line.
func (p *Provider) Unreadable() map[uint32]error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.bad)
}

// Changed reports whether the ring file's hash differs from prev's
// revision (true when prev is nil). It reads the file but unwraps nothing.
func (p *Provider) Changed(ctx context.Context, prev *crypto.Keyring) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	data, err := os.ReadFile(p.path)
	if err != nil {
		return false, fmt.Errorf("check key ring %q: %w", p.path, err)
	}
	return prev == nil || revision(data) != prev.Revision(), nil
}

var (
	_ crypto.Source  = (*Provider)(nil)
	_ crypto.Changer = (*Provider)(nil)
)
