package guard_test

// Reproductions of the fourteenth attack on the guard: a POST body's
// _method read against a path the request names in a header. LookupAll
// reads the paths of X-Original-URL and X-Rewrite-URL and files the routes
// a body _method could reach there under Found.ByBody, but once the body
// is read addBodyRoutes asks LookupMethod, which reads the request's own
// path only: a _method naming a route at the header's path is never
// added, so that route's request paths are never sealed (and its response
// never opened). Each holds once fixed: LookupMethod reads the rewrite
// headers' paths too.

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// laravelOnIIS routes a request as Laravel on an old Symfony Request behind
// IIS's URL Rewrite does: the path from $_SERVER's HTTP_X_ORIGINAL_URL,
// else HTTP_X_REWRITE_URL (cgiHeader: dashed or underscored), the method of a POST from its input's _method (JSON bodies included). It
// returns the strings of the body when the request is PUT /accounts/1.
func laravelOnIIS(r *http.Request, body []byte) []string {
	method := r.Method
	if method == http.MethodPost {
		var v map[string]any
		if json.Unmarshal(body, &v) == nil {
			if m, ok := v["_method"].(string); ok {
				method = strings.ToUpper(m)
			}
		}
	}
	path := r.URL.Path
	for _, h := range []string{"X-Original-URL", "X-Rewrite-URL"} {
		if v := cgiHeader(r, h); v != "" {
			if u, err := url.Parse(v); err == nil {
				path = u.Path
			}
			break
		}
	}
	if method != http.MethodPut || path != "/accounts/1" {
		return nil
	}
	return anyTypeJSONApp(r, body)
}

// R14-1: POST /index.php with X-Original-URL: /accounts/1 and a JSON body
// {"_method":"PUT",...} is accounts-update (PUT) to the application; to
// fieldseal it is accounts-action (POST at the header's path), and the
// body's PUT is looked up at /index.php only, where no route is: the PUT
// route's contact.value reaches the store in plaintext. The same body sent
// to /accounts/1 itself is sealed under both routes (the baseline).
func TestAttackR14BodyMethodAtRewrittenPath(t *testing.T) {
	body := `{"_method":"PUT","contact":{"value":"` + hidden + `"}}`
	for _, h := range []string{"X-Original-URL", "X-Rewrite-URL", "X_ORIGINAL_URL"} {
		t.Run(h, func(t *testing.T) {
			a := newApp(t, laravelOnIIS)
			sc := startApp(t, a, actionAndUpdate)
			base := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/accounts/1", JSON: body})
			if base.Status != http.StatusOK {
				t.Fatalf("baseline POST /accounts/1 with _method PUT: %d %s", base.Status, base.Body)
			}
			a.mustNotHold(t, hidden)
			r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/index.php", Header: map[string]string{h: "/accounts/1"}, JSON: body})
			t.Logf("POST /index.php with %s: /accounts/1 and _method PUT -> %d %s", h, r.Status, r.Body)
			a.mustNotHold(t, hidden)
		})
	}
}

// R14-2: the read side of R14-1. POST /index.php with X-Original-URL:
// /accounts/1 and a JSON body {"_method":"GET"} is accounts-read to the
// application, which answers the record with its legacy contact.value; to
// fieldseal it is accounts-action, whose response names only note, and the
// GET is looked up at /index.php only: a caller whose action for secret is
// sealed reads the legacy plaintext.
func TestAttackR14BodyMethodAtRewrittenPathReads(t *testing.T) {
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		method := r.Method
		var v map[string]any
		if r.Method == http.MethodPost && json.Unmarshal(body, &v) == nil {
			if m, ok := v["_method"].(string); ok {
				method = strings.ToUpper(m)
			}
		}
		path := r.URL.Path
		if o := cgiHeader(r, "X-Original-URL"); o != "" {
			path = o
		}
		w.Header().Set("Content-Type", "application/json")
		if method == http.MethodGet && path == "/accounts/1" {
			_, _ = io.WriteString(w, legacyRecord)
			return
		}
		_, _ = io.WriteString(w, `{"ok":true}`)
	})
	sc, auth := legacyReader(t, up, "response: [ {path: note, class: secret} ]", "")
	base := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/accounts/1",
		Header: map[string]string{"Authorization": auth["Authorization"]}, JSON: `{"_method":"GET"}`})
	if base.Status != http.StatusOK || strings.Contains(string(base.Body), legacyContact) {
		t.Fatalf("baseline POST /accounts/1 with _method GET: %d %s", base.Status, base.Body)
	}
	r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/index.php",
		Header: map[string]string{"Authorization": auth["Authorization"], "X-Original-URL": "/accounts/1"},
		JSON:   `{"_method":"GET"}`})
	if strings.Contains(string(r.Body), legacyContact) {
		t.Errorf("POST /index.php with X-Original-URL: /accounts/1 and _method GET: %d %s: the caller read legacy plaintext the GET route seals for it", r.Status, r.Body)
	}
}
