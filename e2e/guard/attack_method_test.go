package guard_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// expressOverride models Express + method-override: methodOverride('_method')
// reads the query, methodOverride('X-HTTP-Method-Override') takes the first
// comma-separated value; both only override POST. It returns the body's
// contact.value when the app routes the request to PUT /customers/{id}.
func expressOverride(r *http.Request, body []byte) []string {
	m := r.Method
	if m == "POST" {
		if q := r.URL.Query().Get("_method"); q != "" {
			m = strings.ToUpper(q)
		} else if h := r.Header.Get("X-HTTP-Method-Override"); h != "" {
			m = strings.ToUpper(strings.TrimSpace(strings.Split(h, ",")[0]))
		}
	}
	var v struct{ Contact struct{ Value string } }
	_ = json.Unmarshal(body, &v)
	if m == "PUT" && strings.HasPrefix(strings.ToLower(r.URL.Path), "/customers/") {
		return []string{v.Contact.Value}
	}
	return nil
}

const putOnly = `
  - name: customers-update
    methods: [PUT]
    paths: ["/accounts/{id}"]
    request: [ {path: contact.value, class: secret} ]
`

// F8: Lookup reads override headers whole and never the _method parameter.
func TestAttackMethodOverrideReadings(t *testing.T) {
	a := newApp(t, func(r *http.Request, b []byte) []string {
		r.URL.Path = strings.Replace(r.URL.Path, "/accounts/", "/customers/", 1)
		return expressOverride(r, b)
	})
	sc := startApp(t, a, putOnly)
	body := `{"contact":{"value":"` + hidden + `"}}`
	for _, q := range []sidecartest.Req{
		{Method: "POST", Path: "/accounts/1?_method=PUT", JSON: body},
		{Method: "POST", Path: "/accounts/1", Header: map[string]string{"X-HTTP-Method-Override": "PUT, POST"}, JSON: body},
		{Method: "PUT", Path: "/accounts/1", JSON: body}, // control: sealed
	} {
		r := sc.Do(t, q)
		t.Logf("%s %s %v -> %d", q.Method, q.Path, q.Header, r.Status)
	}
	a.mustNotHold(t, hidden)
}
