package appse2e_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// allDocs opens the e-mail of every document _all_docs lists.
var allDocs = route{name: "all-docs", methods: "GET", paths: "/db/_all_docs", response: `"rows.#.doc.email"`}

// Issue 16 item 10: /db/_all_docs and /db/{id} are both routes; the most
// specific pattern protects each request, whatever the declaration order.
func TestMostSpecificRouteWinsThroughTheBinary(t *testing.T) {
	store := newDocStore(t)
	sc := start(t, store.URL(), emailMap(route{name: "doc", methods: "GET, PUT", paths: `"/db/{id}"`, request: "email", response: "email"}, allDocs))
	for _, id := range []string{"ada", "bob"} {
		resp := sc.Do(t, sidecartest.Req{Method: "PUT", Path: "/db/" + id, JSON: `{"email":"` + id + `@example.com"}`})
		if resp.Status != 201 {
			t.Fatalf("put %s: %d %s", id, resp.Status, resp.Body)
		}
	}
	store.mustNotHold(t, "ada@example.com", "bob@example.com")
	if e, _ := store.doc("ada")["email"].(string); !strings.HasPrefix(e, "fs1:") {
		t.Fatalf("stored email = %q, want sealed", e)
	}

	resp := sc.Do(t, sidecartest.Req{Path: "/db/_all_docs"})
	var all struct {
		Rows []struct{ Doc struct{ Email string } }
	}
	if err := json.Unmarshal(resp.Body, &all); resp.Status != 200 || err != nil || len(all.Rows) != 2 {
		t.Fatalf("_all_docs: %d %s", resp.Status, resp.Body)
	}
	if all.Rows[0].Doc.Email != "ada@example.com" || all.Rows[1].Doc.Email != "bob@example.com" {
		t.Fatalf("_all_docs through the most specific route: %s", resp.Body)
	}

	resp = sc.Do(t, sidecartest.Req{Path: "/db/ada"})
	var doc struct{ Email string }
	if err := json.Unmarshal(resp.Body, &doc); err != nil || doc.Email != "ada@example.com" {
		t.Fatalf("get ada: %d %s", resp.Status, resp.Body)
	}
}

// Two routes that match exactly the same paths are still refused.
func TestDuplicateRoutePatternsAreRefused(t *testing.T) {
	store := newDocStore(t)
	sc := start(t, store.URL(), emailMap(route{name: "doc", methods: "GET", paths: `"/db/{id}"`, response: "email"}, allDocs))
	sc.Run(t, "config", "check", sc.ConfigFile)
	cfg, err := os.ReadFile(sc.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	dup := filepath.Join(sc.Dir, "dup.yaml")
	if err := os.WriteFile(dup, append(cfg, `  - name: same
    methods: [GET]
    paths: ["/DB/{doc}/"]
    response: [{path: email, class: email}]
`...), 0o600); err != nil {
		t.Fatal(err)
	}
	res := sc.Exec(t, "config", "check", dup)
	out, errb, err := res.Stdout, res.Stderr, exitErr(res.Code)
	if err == nil || !strings.Contains(string(out)+string(errb), `GET /DB/{doc}/ matches the same paths as GET /db/{id} of route "doc"`) {
		t.Fatalf("config check: %v\n%s%s", err, out, errb)
	}
}

// exitErr is nil for exit status 0, an error naming the status otherwise.
func exitErr(code int) error {
	if code == 0 {
		return nil
	}
	return fmt.Errorf("exit status %d", code)
}
