package appse2e_test

import (
	"bytes"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// Issue 16 item 3: sealing null or "" turned an empty required field into a
// non-empty ciphertext, so the application's "required" validation passed.
// By default a class leaves null and "" as they are; seal_empty opts in.
func TestEmptyValuesReachTheApplicationsValidation(t *testing.T) {
	doc := route{name: "doc", methods: "PUT, GET", paths: `"/db/{id}"`, request: "email", response: "email"}
	t.Run("by default the app sees null and empty strings and refuses them", func(t *testing.T) {
		store := newDocStore(t)
		sc := start(t, store.URL(), emailMap(doc))
		for _, empty := range []string{`""`, `null`} {
			resp := sc.Do(t, sidecartest.Req{Method: "PUT", Path: "/db/ada", JSON: `{"email":` + empty + `}`})
			if resp.Status != 400 || !bytes.Contains(resp.Body, []byte("email is required")) {
				t.Fatalf("PUT email %s: %d %s, want the app's 400", empty, resp.Status, resp.Body)
			}
			if got := store.lastBody(); string(got) != `{"email":`+empty+`}` {
				t.Fatalf("the store received %s", got)
			}
		}
		resp := sc.Do(t, sidecartest.Req{Method: "PUT", Path: "/db/ada", JSON: `{"email":"ada@example.com"}`})
		if resp.Status != 201 {
			t.Fatalf("PUT a value: %d %s", resp.Status, resp.Body)
		}
		store.mustNotHold(t, "ada@example.com")
	})
	t.Run("with seal_empty the app gets a ciphertext, as before", func(t *testing.T) {
		store := newDocStore(t)
		sc := start(t, store.URL(), fieldMap("email", "{mode: random, seal_empty: true}", doc))
		resp := sc.Do(t, sidecartest.Req{Method: "PUT", Path: "/db/ada", JSON: `{"email":""}`})
		if resp.Status != 201 || !bytes.Contains(store.lastBody(), []byte(`"email":"fs1:`)) {
			t.Fatalf("PUT: %d %s; store got %s", resp.Status, resp.Body, store.lastBody())
		}
		resp = sc.Do(t, sidecartest.Req{Path: "/db/ada"})
		if !bytes.Contains(resp.Body, []byte(`"email":""`)) {
			t.Fatalf("read back: %s", resp.Body)
		}
	})
}
