package keyse2e_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/internal/motoserver"
	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// Issue 12 item 6: deterministic lookups keep working across routine
// rotations; only `keys rotate-lookup` (which makes the primary the lookup
// version) changes the value, and /v1/lookup then lists the old one so a
// store can be searched while it is re-sealed.

// lookupFieldMap protects customers' e-mail deterministically: sealed in
// bodies, and in the email query parameter of a lookup.
const lookupFieldMap = `
classes:
  email: {mode: deterministic}
routes:
  - name: customers
    methods: [GET, POST]
    paths: [/customers]
    request: [{path: email, class: email}]
    response: [{path: "#.email", class: email}, {path: email, class: email}]
    query: [{param: email, class: email}]
  - name: customer
    methods: [GET, PUT]
    paths: ["/customers/{id}"]
    request: [{path: email, class: email}]
    response: [{path: email, class: email}]
`

const jane = "jane@example.com"

// lookupSidecar is a sidecar over json-server with the lookup field map,
// an anonymous API listener, and the keys section keys ("" for a fresh
// local ring).
type lookupSidecar struct {
	*sidecartest.Sidecar
	js *sidecartest.JSONServer
}

func newLookupSidecar(t *testing.T, seed, keys string) *lookupSidecar {
	t.Helper()
	js := sidecartest.StartJSONServer(t, seed)
	sc := sidecartest.New(t, fieldsealBin, sidecartest.Config{Upstream: js.URL, FieldMap: lookupFieldMap, Keys: keys,
		API: &sidecartest.API{AllowAnonymous: true}})
	return &lookupSidecar{Sidecar: sc, js: js}
}

// keys runs a `fieldseal keys` subcommand on the sidecar's config and
// restarts the sidecar, so it serves the changed ring. The new process
// belongs to t: call it with the test, not a subtest that ends before the
// sidecar is done with.
func (s *lookupSidecar) keys(t *testing.T, sub string) {
	t.Helper()
	s.Run(t, "keys", sub, "--config", s.ConfigFile)
	s.Restart(t)
}

// lookup asks the API for jane's lookup value and the others.
func (s *lookupSidecar) lookup(t *testing.T) (string, []string) {
	t.Helper()
	resp := s.CallAPI(t, "lookup", "", `{"items":[{"class":"email","value":"`+jane+`"}]}`)
	var b struct {
		Items []struct {
			Value  string
			Others []string
		}
	}
	if err := json.Unmarshal(resp.Body, &b); resp.Status != 200 || err != nil || len(b.Items) != 1 || b.Items[0].Others == nil {
		t.Fatalf("lookup: %d %s", resp.Status, resp.Body)
	}
	return b.Items[0].Value, b.Items[0].Others
}

// find looks jane up by the sealed query parameter through the sidecar and
// returns the names json-server found.
func (s *lookupSidecar) find(t *testing.T) []string {
	t.Helper()
	return names(t, s.Do(t, sidecartest.Req{Path: "/customers?email=" + url.QueryEscape(jane)}))
}

// findInStore searches json-server directly for a stored (sealed) value,
// as a migration job does with the values /v1/lookup lists.
func (s *lookupSidecar) findInStore(t *testing.T, sealed string) []string {
	t.Helper()
	resp, err := sidecartest.Get(s.js.URL + "/customers?email=" + url.QueryEscape(sealed))
	if err != nil {
		t.Fatal(err)
	}
	return names(t, resp)
}

func names(t *testing.T, resp sidecartest.Resp) []string {
	t.Helper()
	var found []struct{ Name string }
	if err := json.Unmarshal(resp.Body, &found); resp.Status != 200 || err != nil {
		t.Fatalf("search: %d %s", resp.Status, resp.Body)
	}
	var out []string
	for _, c := range found {
		out = append(out, c.Name)
	}
	return out
}

// storedEmail is the e-mail json-server holds for customer id.
func (s *lookupSidecar) storedEmail(t *testing.T, id string) string {
	t.Helper()
	var db struct {
		Customers []struct {
			ID    json.RawMessage // json-server numbers the records it creates
			Email string
		}
	}
	if err := json.Unmarshal(s.js.ReadDB(t), &db); err != nil {
		t.Fatal(err)
	}
	for _, c := range db.Customers {
		if strings.Trim(string(c.ID), `"`) == id {
			return c.Email
		}
	}
	t.Fatalf("customer %s is not in the store", id)
	return ""
}

// lookupAcrossRotations is the whole story on one provider: write, rotate,
// find; rotate the lookup version, search by the listed values, re-seal,
// find again.
func lookupAcrossRotations(t *testing.T, s *lookupSidecar) {
	resp := s.Do(t, sidecartest.Req{Method: "POST", Path: "/customers", JSON: `{"name":"Jane","email":"` + jane + `"}`})
	var created struct{ ID json.RawMessage }
	if err := json.Unmarshal(resp.Body, &created); resp.Status != 201 || err != nil {
		t.Fatalf("create: %d %s", resp.Status, resp.Body)
	}
	id := strings.Trim(string(created.ID), `"`)
	s.js.ReadDB(t, "Jane")
	stored := s.storedEmail(t, id)
	if !strings.HasPrefix(stored, "fs1:") {
		t.Fatalf("the store holds %q", stored)
	}

	s.keys(t, "rotate")
	t.Run("after a routine rotation the record is found by its sealed query parameter", func(t *testing.T) {
		if got := s.find(t); !slices.Equal(got, []string{"Jane"}) {
			t.Fatalf("found %v, want Jane", got)
		}
		value, others := s.lookup(t)
		if value != stored || len(others) != 1 || others[0] == stored {
			t.Fatalf("lookup value %s others %v, want the stored %s and the value under v2", value, others, stored)
		}
	})
	t.Run("the lookup version can be neither retired nor destroyed before it moves", func(t *testing.T) {
		for _, args := range [][]string{{"retire", "1"}, {"destroy", "1", "--yes"}} {
			res := s.Exec(t, append(append([]string{"keys"}, args...), "--config", s.ConfigFile)...)
			if res.Code == 0 || !strings.Contains(string(res.Stderr), "rotate-lookup") {
				t.Fatalf("keys %v: exit %d: %s", args, res.Code, res.Stderr)
			}
		}
		if got := s.find(t); !slices.Equal(got, []string{"Jane"}) {
			t.Fatalf("found %v after the refusals, want Jane", got)
		}
	})

	// A fresh lookup key, as docs/keys.md says: rotate, then move the
	// lookup version to the new primary.
	s.keys(t, "rotate")
	s.keys(t, "rotate-lookup")
	value, others := s.lookup(t)
	t.Run("rotate-lookup changes the value and the API lists the old one", func(t *testing.T) {
		if value == stored || len(others) != 2 || others[1] != stored {
			t.Fatalf("lookup value %s others %v; stored %s", value, others, stored)
		}
		if got := s.find(t); len(got) != 0 {
			t.Fatalf("the new value found %v before the record was re-sealed", got)
		}
		var found []string
		for _, o := range append([]string{value}, others...) {
			found = append(found, s.findInStore(t, o)...)
		}
		if !slices.Equal(found, []string{"Jane"}) {
			t.Fatalf("searching the store by the listed values found %v, want Jane", found)
		}
	})
	t.Run("the key command is in the audit trail", func(t *testing.T) {
		s.AuditLines(t, `"admin_rotate-lookup"`)
	})
	t.Run("a record read and written back through the sidecar is found by the new value", func(t *testing.T) {
		rec := s.Do(t, sidecartest.Req{Path: "/customers/" + id})
		if rec.Status != 200 || !strings.Contains(string(rec.Body), jane) {
			t.Fatalf("read: %d %s", rec.Status, rec.Body)
		}
		if put := s.Do(t, sidecartest.Req{Method: "PUT", Path: "/customers/" + id, JSON: string(rec.Body)}); put.Status != 200 {
			t.Fatalf("write back: %d %s", put.Status, put.Body)
		}
		s.js.ReadDB(t, value)
		if got := s.storedEmail(t, id); got != value {
			t.Fatalf("re-sealed value %s, want the lookup value %s", got, value)
		}
		if got := s.find(t); !slices.Equal(got, []string{"Jane"}) {
			t.Fatalf("found %v, want Jane", got)
		}
	})
}

func TestLookupsAcrossRotationsLocal(t *testing.T) {
	s := newLookupSidecar(t, `{"customers":[]}`, "")
	s.Serve(t)
	lookupAcrossRotations(t, s)
}

func TestLookupsAcrossRotationsAWS(t *testing.T) {
	url := motoserver.FromEnv(t, motoserver.EnvURL)
	r := newAWSRing(t, url, url)
	keys := fmt.Sprintf("keys:\n  provider: aws\n  aws:\n    region: %s\n    kms_key_id: %s\n    secret_id: %s\n    endpoint: %s\n    cmk_check_interval: 0s",
		awsRegion, r.cmk, r.secret, url)
	s := newLookupSidecar(t, `{"customers":[]}`, keys)
	s.Run(t, "keys", "init", "--config", s.ConfigFile)
	s.Serve(t)
	lookupAcrossRotations(t, s)
}

// A ring written by the release before lookup versions (init, one rotate:
// deterministic values under its primary v2, metadata in the v1 encoding)
// and a record that release stored.
func TestLookupsOnARingWrittenBeforeLookupVersions(t *testing.T) {
	fixture := filepath.Join("..", "..", "crypto", "localkeys", "testdata", "before-lookup")
	old, err := os.ReadFile(filepath.Join(fixture, "value.txt"))
	if err != nil {
		t.Fatal(err)
	}
	stored := strings.TrimSpace(string(old))
	s := newLookupSidecar(t, `{"customers":[{"id":"1","name":"Jane","email":"`+stored+`"}]}`,
		"keys:\n  provider: local\n  local:\n    ring_file: ring.json\n    master_key_file: master.key")
	for _, f := range []string{"ring.json", "master.key"} {
		b, err := os.ReadFile(filepath.Join(fixture, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(s.Dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s.Serve(t)
	check := func(t *testing.T) {
		t.Helper()
		if got := s.find(t); !slices.Equal(got, []string{"Jane"}) {
			t.Fatalf("found %v, want Jane", got)
		}
		if value, _ := s.lookup(t); value != stored {
			t.Fatalf("lookup value %s, want the stored %s", value, stored)
		}
	}
	t.Run("the ring verifies", func(t *testing.T) {
		out := string(s.Run(t, "keys", "verify", "--config", s.ConfigFile))
		if !strings.Contains(out, "metadata: ok") {
			t.Fatalf("keys verify: %s", out)
		}
	})
	t.Run("the record stored by that release is found", check)
	s.keys(t, "rotate")
	t.Run("after a rotation by this release it is still found", func(t *testing.T) {
		out := string(s.Run(t, "keys", "status", "--config", s.ConfigFile))
		if !strings.Contains(out, "primary: v3") || !strings.Contains(out, "lookup: v2") {
			t.Fatalf("keys status: %s", out)
		}
		check(t)
	})
}
