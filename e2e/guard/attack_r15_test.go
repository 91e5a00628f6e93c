package guard_test

// Reproductions of the fifteenth attack on the guard: a route's context
// read from one path where the application routes by another. A route
// that binds its values to a path parameter (context: {path_param: id})
// takes the parameter from the request's own path (Route.PathParam), while
// LookupAll also reads the paths of X-Original-URL and X-Rewrite-URL, which
// the applications it names (Symfony before 2.7.49/3.4.14, Zend Framework
// 1, Drupal 7 on IIS) route by. "PUT /customers/c1" with "X-Original-URL:
// /customers/c2" is record c2 to such an application and c1 to fieldseal:
// a value of c1 is accepted as c1's and stored in c2, and read back from
// c2 the same way it opens, which is what the context exists to prevent.
// Likewise a route that binds them to a header (context: {header:
// X-Tenant}) takes it by its dashed name only, where a CGI server hands
// the application HTTP_X_TENANT from "X_Tenant" or "X.Tenant" too, the
// field it received last winning (PHP's built-in server, WEBrick; the
// sidecar's ReverseProxy writes fields in sorted name order, so "X_Tenant"
// comes after "X-Tenant"): a value of tenant t1 is accepted as t1's and
// stored for t2, and read back for t2 the same way it opens.
// And a route that binds them to a body member (context: {member:
// tenant}) reads the member's first occurrence (gjson), where Go's
// encoding/json binds the last, of any letter case, and Jackson the last.
// Held, not kept: guard.unmatched off and refuse with method override
// headers, _method queries and a POST body's _method (a POST reads every
// method of the map at its path, so it is never unmatched where a route
// lists the path under any method); guard.path_case and member_case
// sensitive with format suffixes, X-Original-URL paths and _method
// readings; a route with context.member a body's _method adds (bound, or
// missing_context).
// Each holds once fixed: the context is read under every reading an
// application may make, and a request whose readings disagree is refused
// (400 missing_context).

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// R15-1: a value bound to record c1 by its path parameter is written into
// record c2 and read back from it, opened, by naming c2 in X-Original-URL
// (or X-Rewrite-URL) on requests whose own path is c1's.
func TestAttackR15PathParamContextFromRewriteHeader(t *testing.T) {
	for _, h := range []string{"X-Original-URL", "X-Rewrite-URL"} {
		t.Run(h, func(t *testing.T) {
			// An application routing by the header, keeping one record per id.
			srv, record := keyedStore(t, func(r *http.Request) string { return strings.TrimPrefix(originalURLPath(r), "/customers/") })
			sc := sidecartest.Start(t, bin, sidecartest.Config{Upstream: srv.URL, FieldMap: contextMap("customers", `["/customers/{id}"]`, "path_param: id")})
			if r := sc.Do(t, sidecartest.Req{Method: "PUT", Path: "/customers/c1", JSON: `{"email":"` + alice + `"}`}); r.Status != http.StatusOK {
				t.Fatalf("put c1: %d %s", r.Status, r.Body)
			}
			c1 := record("c1")
			if c1 == "" || strings.Contains(c1, alice) {
				t.Fatalf("c1 as stored: %q", c1)
			}
			// The baseline: c1's value written into c2 is refused.
			if r := sc.Do(t, sidecartest.Req{Method: "PUT", Path: "/customers/c2", JSON: c1}); r.Status != http.StatusBadRequest {
				t.Fatalf("c1's value written into c2 directly: %d %s, want 400", r.Status, r.Body)
			}
			// The same write with c2 named in the header.
			w := sc.Do(t, sidecartest.Req{Method: "PUT", Path: "/customers/c1", Header: map[string]string{h: "/customers/c2"}, JSON: c1})
			t.Logf("PUT /customers/c1 with %s /customers/c2: %d %s", h, w.Status, w.Body)
			if got := record("c2"); got != "" {
				t.Errorf("c1's value was stored in record c2 (%q): the application routed by %s, fieldseal bound it to c1", got, h)
			}
			// Read back from c2 the same way: opened under c1's context.
			r := sc.Do(t, sidecartest.Req{Method: "GET", Path: "/customers/c1", Header: map[string]string{h: "/customers/c2"}})
			if strings.Contains(string(r.Body), alice) {
				t.Errorf("record c2 read through %s opened c1's value: %d %s", h, r.Status, r.Body)
			}
		})
	}
}

// lastCGIHeader returns a request header as PHP's built-in server and
// WEBrick hand it to the application: of every field whose name is the
// same CGI variable (HTTP_<name>, '-' and '.' read as '_'), the one received
// last, and the sidecar writes fields in sorted name order.
func lastCGIHeader(r *http.Request, name string) string {
	key := strings.NewReplacer("-", "_", ".", "_").Replace(strings.ToUpper(name))
	var names []string
	for k, vs := range r.Header {
		if strings.NewReplacer("-", "_", ".", "_").Replace(strings.ToUpper(k)) == key && len(vs) > 0 {
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		return ""
	}
	sort.Strings(names)
	vs := r.Header[names[len(names)-1]]
	return vs[len(vs)-1]
}

// R15-2: a value bound to tenant t1 by a context header is written for
// tenant t2 and read back for t2, opened, by sending the header as t1
// (which fieldseal reads: the first line of the dashed name) and again as
// t2 in a second line or with '_' or '.' (which a CGI server hands the
// application last).
func TestAttackR15ContextHeaderCGISpelling(t *testing.T) {
	for name, second := range map[string]string{"second line": "X-Tenant", "underscore": "X_Tenant", "dot": "X.Tenant"} {
		t.Run(name, func(t *testing.T) {
			srv, record := keyedStore(t, func(r *http.Request) string { return lastCGIHeader(r, "X-Tenant") })
			sc := sidecartest.Start(t, bin, sidecartest.Config{Upstream: srv.URL, FieldMap: contextMap("profile", `[/profile]`, "header: X-Tenant")})
			// send sends method /profile with the tenant header's lines
			// (the first dashed, the second spelt as second) and body.
			send := func(method string, tenants []string, body string) (int, string) {
				t.Helper()
				req, err := http.NewRequest(method, sc.URL+"/profile", strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/json")
				for i, v := range tenants {
					k := "X-Tenant"
					if i > 0 {
						k = second
					}
					req.Header[k] = append(req.Header[k], v) // as spelt, not canonicalised
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}
			if st, b := send("PUT", []string{"t1"}, `{"email":"`+alice+`"}`); st != http.StatusOK {
				t.Fatalf("put for t1: %d %s", st, b)
			}
			t1 := record("t1")
			if t1 == "" || strings.Contains(t1, alice) {
				t.Fatalf("t1's record as stored: %q", t1)
			}
			if st, b := send("PUT", []string{"t2"}, t1); st != http.StatusBadRequest {
				t.Fatalf("t1's value written for t2 directly: %d %s, want 400", st, b)
			}
			st, b := send("PUT", []string{"t1", "t2"}, t1)
			t.Logf("PUT /profile with X-Tenant t1 and %s t2: %d %s", second, st, b)
			if got := record("t2"); got != "" {
				t.Errorf("t1's value was stored for t2 (%q): the application read %s, fieldseal the first X-Tenant", got, second)
			}
			if st, b := send("GET", []string{"t1", "t2"}, ""); strings.Contains(b, alice) {
				t.Errorf("t2's record read with %s t2 opened t1's value: %d %s", second, st, b)
			}
		})
	}
}

// R15-3: a value bound to tenant t1 by a body member is written for tenant
// t2 and read back for t2, opened, by naming the member twice: t1 first
// (which fieldseal binds), t2 last (which Go's encoding/json binds, in
// any letter case).
func TestAttackR15ContextMemberDuplicate(t *testing.T) {
	for name, second := range map[string]string{"same name": "tenant", "other case": "TENANT"} {
		t.Run(name, func(t *testing.T) {
			var mu sync.Mutex
			records := map[string][]byte{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				mu.Lock()
				defer mu.Unlock()
				if r.Method == http.MethodGet {
					_, _ = w.Write(records[r.URL.Query().Get("tenant")])
					return
				}
				b, _ := io.ReadAll(r.Body)
				var v struct {
					Tenant string `json:"tenant"`
					Email  string `json:"email"`
				}
				if err := json.Unmarshal(b, &v); err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				out, _ := json.Marshal(v)
				records[v.Tenant] = out
				_, _ = w.Write(out)
			}))
			t.Cleanup(srv.Close)
			record := func(tenant string) string {
				mu.Lock()
				defer mu.Unlock()
				return string(records[tenant])
			}
			sc := sidecartest.Start(t, bin, sidecartest.Config{Upstream: srv.URL, FieldMap: contextMap("profile", `[/profile]`, "member: tenant")})
			if r := sc.Do(t, sidecartest.Req{Method: "PUT", Path: "/profile", JSON: `{"tenant":"t1","email":"` + alice + `"}`}); r.Status != http.StatusOK {
				t.Fatalf("put for t1: %d %s", r.Status, r.Body)
			}
			var stored struct{ Email string }
			if err := json.Unmarshal([]byte(record("t1")), &stored); err != nil || stored.Email == "" || stored.Email == alice {
				t.Fatalf("t1's record as stored: %q", record("t1"))
			}
			if r := sc.Do(t, sidecartest.Req{Method: "PUT", Path: "/profile", JSON: `{"tenant":"t2","email":"` + stored.Email + `"}`}); r.Status != http.StatusBadRequest {
				t.Fatalf("t1's value written for t2 directly: %d %s, want 400", r.Status, r.Body)
			}
			w := sc.Do(t, sidecartest.Req{Method: "PUT", Path: "/profile", JSON: `{"tenant":"t1","email":"` + stored.Email + `","` + second + `":"t2"}`})
			t.Logf("PUT /profile with tenant t1 then %s t2: %d %s", second, w.Status, w.Body)
			if got := record("t2"); got != "" {
				t.Errorf("t1's value was stored for t2 (%q): the application bound the last %q, fieldseal the first", got, second)
			}
			if r := sc.Do(t, sidecartest.Req{Method: "GET", Path: "/profile?tenant=t2"}); strings.Contains(string(r.Body), alice) {
				t.Errorf("t2's record opened t1's value: %d %s", r.Status, r.Body)
			}
		})
	}
}

// keyedStore is an application that keeps one record per key (key of the
// request: the record id or tenant it routes by): a write stores its body
// there and answers it, a GET answers the record. record reads one.
func keyedStore(t *testing.T, key func(*http.Request) string) (srv *httptest.Server, record func(string) string) {
	var mu sync.Mutex
	records := map[string][]byte{}
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k := key(r)
		w.Header().Set("Content-Type", "application/json")
		mu.Lock()
		defer mu.Unlock()
		if r.Method == http.MethodGet {
			_, _ = w.Write(records[k])
			return
		}
		b, _ := io.ReadAll(r.Body)
		records[k] = b
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv, func(k string) string {
		mu.Lock()
		defer mu.Unlock()
		return string(records[k])
	}
}

// contextMap is a field map whose one route, name on path (YAML), takes
// and answers e-mail addresses (a class member) bound to context (the
// inside of a context: {...} mapping), and accepts sealed writes.
func contextMap(name, path, context string) string {
	return `
classes:
  email: { mode: random, keys: [email] }
guard: { sealed_writes: accept }
routes:
  - name: ` + name + `
    methods: [PUT, GET]
    paths: ` + path + `
    context: { ` + context + ` }
    request:  [ {path: email, class: email} ]
    response: [ {path: email, class: email} ]
`
}
