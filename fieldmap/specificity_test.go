package fieldmap

import (
	"strings"
	"testing"
)

func TestPatternSpecificity(t *testing.T) {
	tests := []struct {
		a, b   string
		within bool // every path a matches, b matches
	}{
		{"/db/_all_docs", "/db/{id}", true},
		{"/db/{id}", "/db/_all_docs", false},
		{"/db/{id}", "/db/*", true},
		{"/db", "/db/*", true},
		{"/db/*", "/db", false},
		{"/db/{id}/att", "/db/*", true},
		{"/db/{id}", "/db/{key}", true},
		{"/db/{id}", "/DB/{id}/", true},
		{"/a/{x}/c", "/a/b/{y}", false},
		{"/a/b/{y}", "/a/{x}/c", false},
		{"/a/*", "/*", true},
		{"/*", "/a/*", false},
		{"/", "/*", true},
	}
	for _, tt := range tests {
		p, _ := parsePattern(tt.a)
		q, _ := parsePattern(tt.b)
		if got := p.within(&q); got != tt.within {
			t.Errorf("%s within %s = %v, want %v", tt.a, tt.b, got, tt.within)
		}
	}
}

func TestMostSpecificRouteWins(t *testing.T) {
	// Declared least specific first, so declaration order cannot be what
	// decides.
	const spec = `classes: {email: , phone: }
routes:
  - name: everything
    methods: [GET]
    paths: ["/db/*"]
    response: [{path: email, class: email}]
  - name: doc
    methods: [GET, PUT]
    paths: ["/db/{id}"]
    response: [{path: email, class: email}]
  - name: all-docs
    methods: [GET]
    paths: [/db/_all_docs, "/db/_design/{ddoc}/_view/{view}"]
    response: [{path: "rows.#.doc.email", class: email}]
  - name: design
    methods: [GET]
    paths: ["/db/_design/{ddoc}"]
    response: [{path: phone, class: phone}]
`
	m := compileSpec(t, spec)
	tests := []struct {
		method, path, route string
	}{
		{"GET", "/db/_all_docs", "all-docs"},
		{"GET", "/DB/_ALL_DOCS/", "all-docs"},
		{"GET", "/db/4711", "doc"},
		{"PUT", "/db/_all_docs", "doc"}, // all-docs has no PUT: the next most specific pattern
		{"GET", "/db/_design/app", "design"},
		{"GET", "/db/_design/app/_view/by_email", "all-docs"},
		{"GET", "/db/4711/attachment", "everything"},
		{"GET", "/db", "everything"},
	}
	for _, tt := range tests {
		r := lookup(m, tt.method, tt.path, "", "", func(string) []string { return nil })
		if r == nil || r.Name != tt.route {
			t.Errorf("Lookup(%s %s) = %v, want route %q", tt.method, tt.path, r, tt.route)
		}
	}
}

func TestOperatorsNeedADeterministicClass(t *testing.T) {
	const spec = "classes:\n  rrn: {mode: random, operators: true}\n  ssn: {mode: deterministic, operators: true}\nroutes: []\n"
	_, err := Compile(parseSpec(t, spec, "m.yaml"))
	if err == nil || !strings.Contains(err.Error(), `m.yaml:2: class "rrn": operators needs mode deterministic`) || strings.Contains(err.Error(), "ssn") {
		t.Fatalf("Compile = %v", err)
	}
}
