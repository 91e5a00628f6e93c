package appse2e_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// serveFilter is a backend (newDocServer) with a records API and a filter language, as
// PocketBase has: POST /records stores a record, GET /records?filter=..
// lists the records matching every comparison field='literal' (quotes
// doubled inside) of the expression, joined with &&.
var comparison = regexp.MustCompile(`(\w+)\s*=\s*'((?:[^']|'')*)'`)

func serveFilter(w http.ResponseWriter, r *http.Request, b []byte, st *storeState) {
	w.Header().Set("Content-Type", "application/json")
	if r.Method == http.MethodPost {
		var rec map[string]any
		if json.Unmarshal(b, &rec) != nil {
			w.WriteHeader(400)
			return
		}
		st.records = append(st.records, rec)
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(b)
		return
	}
	items := []map[string]any{}
	conds := comparison.FindAllStringSubmatch(r.URL.Query().Get("filter"), -1)
	for _, rec := range st.records {
		match := true
		for _, c := range conds {
			match = match && rec[c[1]] == strings.ReplaceAll(c[2], "''", "'")
		}
		if match {
			items = append(items, rec)
		}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"items": items})
}

// Issue 16 item 1: filter expressions inside a parameter (filter=email='..')
// went upstream in plaintext. A route names the member compared inside the
// parameter; its literals are sealed, and forms fieldseal cannot seal are
// refused.
func TestFilterExpressionLookups(t *testing.T) {
	api := newDocServer(t, serveFilter)
	sc := start(t, api.URL(), fieldMap("email", "{mode: deterministic, keys: [email]}",
		route{name: "records", methods: "GET", paths: "/records", response: `"items.#.email"`,
			extra: "    query: [{param: filter, member: email, class: email}]\n"}))
	for _, rec := range []string{`{"email":"ada@example.com","name":"Ada"}`, `{"email":"o'neil@example.com","name":"O'Neil"}`} {
		sc.DoWant(t, 201, sidecartest.Req{Method: "POST", Path: "/records", JSON: rec})
	}
	find := func(filter string) sidecartest.Resp {
		return sc.Do(t, sidecartest.Req{Path: "/records?filter=" + url.QueryEscape(filter)})
	}
	for _, tc := range []struct{ filter, want string }{
		{"(email='ada@example.com' && name='Ada')", "Ada"},
		{"email = 'o''neil@example.com'", "O'Neil"},
		{"name='O''Neil' && email=\"o'neil@example.com\"", ""}, // double quotes: sealed, but this app reads only '..'
	} {
		t.Run(tc.filter, func(t *testing.T) {
			resp := find(tc.filter)
			var got struct {
				Items []struct{ Email, Name string }
			}
			if err := json.Unmarshal(resp.Body, &got); resp.Status != 200 || err != nil {
				t.Fatalf("find: %d %s", resp.Status, resp.Body)
			}
			if q := api.lastQuery(); strings.Contains(q, "example.com") || !strings.Contains(q, "fs1%3A") {
				t.Fatalf("the application received ?%s", q)
			}
			if tc.want == "" {
				return
			}
			if len(got.Items) != 1 || got.Items[0].Name != tc.want || !strings.HasSuffix(got.Items[0].Email, "@example.com") {
				t.Fatalf("found %+v, want %s opened", got.Items, tc.want)
			}
		})
	}
	t.Run("a comparison fieldseal cannot seal is refused", func(t *testing.T) {
		before := api.lastQuery()
		for _, f := range []string{"email~'ada'", "'ada@example.com'=email", "email in ('ada@example.com')", "email=ada@example.com"} {
			resp := find(f)
			if resp.Status != 400 || sidecartest.ErrorCode(resp.Body) != "invalid_query" {
				t.Fatalf("%s: %d %s, want 400 invalid_query", f, resp.Status, resp.Body)
			}
		}
		if api.lastQuery() != before {
			t.Fatalf("a refused filter reached the application: %s", api.lastQuery())
		}
	})
}
