package guard_test

// Reproductions of the seventh attack on the guard: a POST whose body
// names its method in a shape fieldseal does not read as "_method" but a
// framework does: an array (Express's method-override takes the first
// element of an array, which body-parser's qs reading makes of
// "_method[]" and "_method[0]", and express.json of ["PUT"]), and Rack
// 2's reading of a parameter name, which drops brackets around it
// ("_method]" and "[_method]" are _method); a multipart _method part
// naming a route whose context the request lacks; many _method members; a
// context member missing on a route a _method adds. Each holds once fixed.

import (
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// qsTopKey reads a form parameter name as qs does (body-parser's
// urlencoded({extended: true}), the default of body-parser 1): the part
// before the first '[' is the key, and "[]" or "[<digits>]" after it make
// the value an array; a name that is one bracketed segment ("[_method]")
// is the key inside it (qs's parseObject strips the brackets).
func qsTopKey(name string) (key string, array bool) {
	i := strings.IndexByte(name, '[')
	if i == 0 && strings.Count(name, "[") == 1 && strings.HasSuffix(name, "]") {
		return name[1 : len(name)-1], false
	}
	if i <= 0 {
		return name, false
	}
	rest := name[i:]
	return name[:i], rest == "[]" || regexp.MustCompile(`^\[[0-9]+\]$`).MatchString(rest)
}

// rack2Key reads a form parameter name as Rack 2's
// QueryParser#normalize_params does: leading '[' and ']' are dropped, the
// key runs to the next bracket, and trailing ']' are dropped; a name with
// nothing after that is a plain top-level key.
var rack2Name = regexp.MustCompile(`\A[\[\]]*([^\[\]]+)\]*`)

func rack2Key(name string) (key string, plain bool) {
	m := rack2Name.FindStringSubmatchIndex(name)
	if m == nil {
		return "", false
	}
	return name[m[2]:m[3]], m[1] == len(name)
}

// bodyMethod is the method a POST takes from its body in one framework:
// "express" (body-parser's json and urlencoded with qs, method-override
// with its README's req.body._method getter, which takes val[0] of an
// array) or "rack2" (Rack::MethodOverride over Rack 2's form parser).
func bodyMethod(fw string, r *http.Request, body []byte) string {
	if r.Method != http.MethodPost {
		return r.Method
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var vals []string
	switch {
	case mt == formType:
		q, _ := url.ParseQuery(string(body))
		for k, vs := range q {
			switch fw {
			case "express":
				if key, _ := qsTopKey(k); key == "_method" {
					vals = append(vals, vs[0])
				}
			case "rack2":
				if key, plain := rack2Key(k); key == "_method" && plain {
					vals = append(vals, vs[len(vs)-1])
				}
			}
		}
	case fw == "express" && mt == "application/json":
		var v map[string]any
		_ = json.Unmarshal(body, &v)
		switch m := v["_method"].(type) {
		case string:
			vals = append(vals, m)
		case []any:
			if s, ok := m[0].(string); len(m) > 0 && ok {
				vals = append(vals, s)
			}
		}
	}
	if len(vals) > 0 {
		return strings.ToUpper(vals[0])
	}
	return r.Method
}

// R7-1: fieldseal reads a POST body's _method only as a string member
// named _method (JSON) or a form parameter whose name decodes to _method.
// Express (method-override's documented req.body getter, which takes the
// first element of an array) and Rack 2 (whose parser drops brackets
// around a name) route the POST to the PUT route on a _method fieldseal
// does not see; the PUT route's contact.value reaches the application in
// plaintext, where the same request with a plain _method is refused (a
// form: 415) or sealed (JSON).
func TestAttackR7BodyMethodInAnotherShape(t *testing.T) {
	form := map[string]string{"Content-Type": formType}
	for _, c := range []struct {
		fw   string
		reqs []sidecartest.Req
	}{
		{"express", []sidecartest.Req{
			{Method: "POST", Path: "/accounts/1", Header: form, Body: []byte("_method%5B%5D=PUT&contact%5Bvalue%5D=" + hidden)},
			{Method: "POST", Path: "/accounts/1", Header: form, Body: []byte("_method[0]=PUT&contact[value]=" + hidden)},
			{Method: "POST", Path: "/accounts/1", Header: form, Body: []byte("%5B_method%5D=PUT&contact%5Bvalue%5D=" + hidden)},
			{Method: "POST", Path: "/accounts/1", JSON: `{"_method":["PUT"],"contact":{"value":"` + hidden + `"}}`},
		}},
		{"rack2", []sidecartest.Req{
			{Method: "POST", Path: "/accounts/1", Header: form, Body: []byte("_method%5D=PUT&contact%5Bvalue%5D=" + hidden)},
			{Method: "POST", Path: "/accounts/1", Header: form, Body: []byte("%5B_method%5D=PUT&contact%5Bvalue%5D=" + hidden)},
		}},
	} {
		t.Run(c.fw, func(t *testing.T) {
			a := newApp(t, func(r *http.Request, body []byte) []string {
				if bodyMethod(c.fw, r, body) != http.MethodPut {
					return nil
				}
				if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == formType {
					q, _ := url.ParseQuery(string(body))
					var s []string
					for k, vs := range q {
						s = append(append(s, k), vs...)
					}
					return s
				}
				var v map[string]any
				_ = json.Unmarshal(body, &v)
				return jsonStrings(nil, v)
			})
			sc := startApp(t, a, actionAndUpdate)
			// The baseline: the plain _method is read.
			plain := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/accounts/1", Header: form, Body: []byte("_method=PUT&contact%5Bvalue%5D=" + hidden)})
			if plain.Status != http.StatusUnsupportedMediaType {
				t.Fatalf("form POST with _method=PUT: %d %s, want 415 (the baseline)", plain.Status, plain.Body)
			}
			for _, q := range c.reqs {
				r := sc.Do(t, q)
				t.Logf("%s %s %s%s -> %d %s", q.Method, q.Path, q.Body, q.JSON, r.Status, r.Body)
			}
			a.mustNotHold(t, hidden)
		})
	}
}

// R7-2: R6-2 (a POST tunnelled as GET answers the GET route's record, to
// be opened under the GET route too) through a _method fieldseal does not
// read (R7-1's shapes): the response is opened under the POST route alone,
// and a caller whose action for the class is sealed reads the record's
// legacy plaintext, which the GET route seals for that caller.
func TestAttackR7ResponseUnderBodyMethodInAnotherShape(t *testing.T) {
	for _, c := range []struct{ fw, ct, body string }{
		{"express", formType, "_method%5B%5D=GET"},
		{"express", "application/json", `{"_method":["GET"]}`},
		{"rack2", formType, "_method%5D=GET"},
	} {
		app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			answerAs(w, r, bodyMethod(c.fw, r, body), legacyRecord)
		})
		sc, auth := legacyReader(t, app, "response: [ {path: receipt, class: secret} ]", "")
		r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/accounts/1", Header: map[string]string{"Authorization": auth["Authorization"], "Content-Type": c.ct}, Body: []byte(c.body)})
		if strings.Contains(string(r.Body), legacyContact) {
			t.Errorf("%s %s: POST /accounts/1 answered %d %s: the caller read legacy plaintext the GET route seals for it", c.fw, c.body, r.Status, r.Body)
		}
	}
}

// R7-3: a multipart POST's _method part is not read; the response is
// opened under every route such a part may make (rs.unread), except one
// whose context the request lacks, which is left out. A GET route bound
// to a tenant header answers its record's legacy plaintext sealed to a
// caller who reads the class sealed, and refuses a GET without the header;
// a multipart POST without the header whose _method part says GET gets
// the record from an application that reads that part (Rack, PHP, Spring)
// with the legacy plaintext as it is.
func TestAttackR7UnreadMethodRouteWithoutContext(t *testing.T) {
	sc, auth := legacyReader(t, methodApp(legacyRecord), "response: [ {path: receipt, class: secret} ]", "X-Tenant")
	r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/accounts/1",
		Header: map[string]string{"Authorization": auth["Authorization"], "Content-Type": "multipart/form-data; boundary=B"},
		Body:   []byte("--B\r\nContent-Disposition: form-data; name=\"_method\"\r\n\r\nGET\r\n--B--\r\n")})
	if strings.Contains(string(r.Body), legacyContact) {
		t.Errorf("multipart POST /accounts/1 with a _method=GET part and no X-Tenant: %d %s: the caller read legacy plaintext the GET route seals for it", r.Status, r.Body)
	}
}

// R7-4: addBodyRoutes looks every _method value up (fieldmap.LookupMethod,
// which builds every reading of the path again) before it drops the routes
// it already has: a POST body repeating "_method":"PUT" costs one lookup
// per member, each as dear as the path is long. A 64 KiB body and a path of
// 6.6 KB with ';' parameters, backslashes and dot segments make the
// sidecar allocate hundreds of megabytes (and spend seconds of CPU) on one
// request; 1 MiB bodies pin a core each. Measured as the process's
// allocated bytes (go_memstats_alloc_bytes_total) across the request,
// against the same body with a member that is not _method.
func TestAttackR7ManyBodyMethodsAmplify(t *testing.T) {
	a := newApp(t, nil)
	sc := startApp(t, a, actionAndUpdate)
	path := "/accounts/1" + strings.Repeat("/;x=1/..%5C", 600)
	allocated := func(member string) float64 {
		body := "{" + strings.Repeat(`"`+member+`":"PUT",`, 4096) + `"x":1}`
		before := sc.Metric(t, "go_memstats_alloc_bytes_total", nil)
		r := sc.Do(t, sidecartest.Req{Method: "POST", Path: path, JSON: body})
		after := sc.Metric(t, "go_memstats_alloc_bytes_total", nil)
		t.Logf("%d members %q: %d, %.0f bytes allocated", 4096, member, r.Status, after-before)
		return after - before
	}
	control := allocated("_xethod")
	if got := allocated("_method"); got > 64<<20 {
		t.Errorf("a %d-byte POST repeating _method allocated %.0f MB in the sidecar (the same body with _xethod: %.1f MB)", 4096*16, got/1e6, control/1e6)
	}
}

// R7-5: a route a POST body's _method adds that binds its context to a
// body member (context: {member:}) and finds none refuses the request as
// ambiguous_fields (the category of overlapping wildcard matches), where
// the same body sent to that route directly is refused as missing_context:
// sealAlso's error from bindMember falls through to sealRequest's default
// category, and a client is told its fields are ambiguous.
func TestAttackR7BodyRouteMissingMemberMiscategorised(t *testing.T) {
	routes := accountsRoute("accounts-action", "POST", "response: [ {path: note, class: secret} ]") +
		accountsRoute("accounts-update", "PUT", "context: { member: tenant }", "request: [ {path: contact.value, class: secret} ]")
	a := newApp(t, nil)
	sc := startApp(t, a, routes)
	body := `{"contact":{"value":"` + hidden + `"}}`
	direct := sc.Do(t, sidecartest.Req{Method: "PUT", Path: "/accounts/1", JSON: body})
	var want struct{ Error struct{ Code string } }
	if err := json.Unmarshal(direct.Body, &want); err != nil || direct.Status != http.StatusBadRequest || want.Error.Code == "" {
		t.Fatalf("PUT /accounts/1 without tenant: %d %s, want a 400 with a code (the baseline)", direct.Status, direct.Body)
	}
	r := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/accounts/1", JSON: `{"_method":"PUT",` + body[1:]})
	var got struct{ Error struct{ Code string } }
	_ = json.Unmarshal(r.Body, &got)
	if r.Status != direct.Status || got.Error.Code != want.Error.Code {
		t.Errorf("POST /accounts/1 tunnelled as PUT without tenant: %d %s, want %d %q as the PUT gets (%s)", r.Status, r.Body, direct.Status, want.Error.Code, direct.Body)
	}
	a.mustNotHold(t, hidden)
}
