package appse2e_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
	"github.com/fieldseal/fieldseal/internal/testproc"
)

var lookupMap = fieldMap("email", "{mode: deterministic}",
	route{name: "customers", methods: "GET, POST", paths: "/customers", request: "email", response: `"#.email", email`,
		extra: "    query: [{param: email, class: email}]\n"})

// Issue 16 item 1: an equality lookup (GET /customers?email=..) went
// upstream in plaintext, so the application found nothing and the address
// landed in its access logs. A route seals the query parameters it names
// with their deterministic class.
func TestEqualityLookupsByQueryParameter(t *testing.T) {
	t.Run("json-server finds the record by its sealed email", func(t *testing.T) {
		js := sidecartest.StartJSONServer(t, `{"customers":[]}`)
		sc := start(t, js.URL, lookupMap)
		for _, c := range []string{`{"email":"ada@example.com","name":"Ada"}`, `{"email":"bob@example.com","name":"Bob"}`} {
			sc.DoWant(t, 201, sidecartest.Req{Method: "POST", Path: "/customers", JSON: c})
		}
		db := string(js.ReadDB(t, "Bob"))
		if strings.Contains(db, "ada@example.com") {
			t.Fatalf("the store holds plaintext: %s", db)
		}
		resp := sc.Do(t, sidecartest.Req{Path: "/customers?email=" + url.QueryEscape("ada@example.com")})
		var found []struct{ Email, Name string }
		if err := json.Unmarshal(resp.Body, &found); resp.Status != 200 || err != nil {
			t.Fatalf("lookup: %d %s", resp.Status, resp.Body)
		}
		if len(found) != 1 || found[0].Name != "Ada" || found[0].Email != "ada@example.com" {
			t.Fatalf("lookup found %+v, want Ada alone, opened", found)
		}
	})
	t.Run("the application receives the sealed value and every other parameter as it was", func(t *testing.T) {
		ws := newWebServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`[]`))
		})
		sc := start(t, ws.URL(), lookupMap)
		for _, q := range []string{"email=ada%40example.com&sort=name", "sort=name&EMAIL=ada@example.com", "email[]=ada@example.com&sort=name"} {
			sc.DoWant(t, 200, sidecartest.Req{Path: "/customers?" + q})
			got := ws.lastQuery()
			if strings.Contains(got, "ada") || !strings.Contains(got, "sort=name") || !strings.Contains(got, "=fs1%3A") {
				t.Fatalf("?%s reached the application as ?%s", q, got)
			}
		}
		// Deterministic: the same address seals the same way every time.
		sc.Do(t, sidecartest.Req{Path: "/customers?email=ada@example.com"})
		first := ws.lastQuery()
		sc.Do(t, sidecartest.Req{Path: "/customers?email=ada%40example.com"})
		if ws.lastQuery() != first {
			t.Fatalf("two lookups of one address differ: %s, %s", first, ws.lastQuery())
		}
	})
	t.Run("a query parameter on a class that is not deterministic is a config error", func(t *testing.T) {
		dir := t.TempDir()
		cfg := filepath.Join(dir, "fieldseal.yaml")
		yaml := "upstream: http://127.0.0.1:1\n" + strings.Replace(lookupMap, "deterministic", "random", 1)
		if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		res := testproc.Exec(t, testproc.Cmd{Dir: dir}, fieldsealBin, "config", "check", cfg)
		out := string(res.Stdout) + string(res.Stderr)
		if res.Code == 0 || !strings.Contains(out, `query parameter "email"`) || !strings.Contains(out, "deterministic") {
			t.Fatalf("config check: exit %d: %s", res.Code, out)
		}
	})
}
