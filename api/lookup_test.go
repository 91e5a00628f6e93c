package api

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/crypto"
)

// ringVersions builds a ring of the data keys in keys (ids 1..n), primary
// the last, with lookup version lookup (0: the primary).
func ringVersions(t *testing.T, keys [][]byte, lookup uint32) *crypto.Keyring {
	t.Helper()
	var dks []*crypto.DataKey
	for i, m := range keys {
		k, err := crypto.NewDataKey(uint32(i+1), m, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		dks = append(dks, k)
	}
	r, err := crypto.NewKeyringLifecycle(dks, uint32(len(keys)), "test", crypto.Lifecycle{Lookup: lookup})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// lookupAnswer is one lookup item's answer.
type lookupAnswer struct {
	Value  string   `json:"value"`
	Others []string `json:"others"`
}

func lookupItems(t *testing.T, r result) []lookupAnswer {
	t.Helper()
	var b struct{ Items []lookupAnswer }
	if r.Status != http.StatusOK || json.Unmarshal(r.Raw, &b) != nil {
		t.Fatalf("lookup answered %d %s", r.Status, r.Raw)
	}
	return b.Items
}

func TestLookupAcrossKeyRotations(t *testing.T) {
	material := make([][]byte, 3)
	for i := range material {
		material[i] = make([]byte, 32)
		_, _ = rand.Read(material[i])
	}
	const item = `{"items":[{"class":"customer_no","value":"C-1","context":"t"}]}`
	before := newTestAPI(t, func(o *Options) { o.Keys = staticKeys{ringVersions(t, material[:1], 0)} })
	stored := str(t, before.post(t, "/v1/seal", "writer", item).Batch.Items[0].Value)

	t.Run("a ring of one version answers an empty list of others", func(t *testing.T) {
		l := before.post(t, "/v1/lookup", "writer", item)
		if got := lookupItems(t, l); got[0].Value != stored || got[0].Others == nil || len(got[0].Others) != 0 {
			t.Fatalf("lookup %s, want value %s and others []", l.Raw, stored)
		}
	})
	t.Run("after routine rotations the lookup value is still the stored one", func(t *testing.T) {
		ta := newTestAPI(t, func(o *Options) { o.Keys = staticKeys{ringVersions(t, material, 1)} })
		got := lookupItems(t, ta.post(t, "/v1/lookup", "writer", item))
		if got[0].Value != stored || len(got[0].Others) != 2 {
			t.Fatalf("lookup %+v, want value %s and the values under v3 and v2", got[0], stored)
		}
	})
	t.Run("after rotate-lookup the value changes and the others hold the stored one", func(t *testing.T) {
		ta := newTestAPI(t, func(o *Options) { o.Keys = staticKeys{ringVersions(t, material, 3)} })
		l := ta.post(t, "/v1/lookup", "writer", item)
		got := lookupItems(t, l)
		if got[0].Value == stored || len(got[0].Others) != 2 || got[0].Others[1] != stored {
			t.Fatalf("lookup %+v; stored value %s", got[0], stored)
		}
		s := ta.post(t, "/v1/seal", "writer", item)
		if str(t, s.Batch.Items[0].Value) != got[0].Value {
			t.Fatalf("lookup value %s is not what a seal stores now (%s)", got[0].Value, s.Batch.Items[0].Value)
		}
		ev := <-ta.events
		if !slices.Equal(ev.KeyIDs, []uint32{3}) {
			t.Fatalf("audit key ids %v: the search terms under v1 and v2 were counted as seals", ev.KeyIDs)
		}
	})
}
