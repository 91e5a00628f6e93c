package fieldmap

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
	"github.com/fieldseal/fieldseal/internal/strictyaml"
	"github.com/fieldseal/fieldseal/lineerr"
)

func TestPatternMatch(t *testing.T) {
	tests := []struct {
		name, pattern, path string
		want                bool
	}{
		{"a literal path matches itself", "/customers", "/customers", true},
		{"a literal path tolerates a trailing slash", "/customers", "/customers/", true},
		{"a pattern written with a trailing slash matches without", "/customers/", "/customers", true},
		{"repeated slashes are ignored", "/customers/{id}", "//customers///7", true},
		{"literals compare case-insensitively", "/customers", "/Customers", true},
		{"a literal does not match a longer path", "/customers", "/customers/1", false},
		{"a literal does not match a different word", "/customers", "/customer", false},
		{"a literal does not match a shared prefix", "/customers", "/customersx", false},
		{"a parameter matches one segment", "/customers/{id}", "/customers/42", true},
		{"a parameter does not match nothing", "/customers/{id}", "/customers", false},
		{"a parameter does not match nothing after a slash", "/customers/{id}", "/customers/", false},
		{"a parameter does not match two segments", "/customers/{id}", "/customers/42/orders", false},
		{"parameters and literals combine", "/tenants/{t}/customers/{id}", "/tenants/acme/customers/9", true},
		{"a prefix wildcard matches its prefix", "/api/*", "/api", true},
		{"a prefix wildcard matches everything below", "/api/*", "/api/v1/customers/7", true},
		{"a prefix wildcard does not match a sibling", "/api/*", "/apis/v1", false},
		{"a root wildcard matches every path", "/*", "/anything/at/all", true},
		{"the root pattern matches the root", "/", "/", true},
		{"the root pattern matches only the root", "/", "/a", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, reason := parsePattern(tt.pattern)
			if reason != "" {
				t.Fatalf("parsePattern(%q): %s", tt.pattern, reason)
			}
			if got := p.match(tt.path, true); got != tt.want {
				t.Errorf("%q matches %q = %v, want %v", tt.pattern, tt.path, got, tt.want)
			}
		})
	}
}

func TestPatternOverlap(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"/customers", "/customers/", true},
		{"/customers", "/Customers", true},
		{"/customers", "/customers/{id}", false},
		{"/customers/{id}", "/customers/{key}", true},
		{"/customers/{id}", "/customers/me", true},
		{"/customers/*", "/customers", true},
		{"/customers/*", "/customers/{id}/orders", true},
		{"/customers/*", "/orders/*", false},
		{"/a/{x}/c", "/a/b/{y}", true},
		{"/a/{x}/c", "/a/b/d", false},
		{"/*", "/", true},
	}
	for _, tt := range tests {
		p, _ := parsePattern(tt.a)
		q, _ := parsePattern(tt.b)
		if got := p.overlaps(&q); got != tt.want {
			t.Errorf("%s overlaps %s = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := q.overlaps(&p); got != tt.want {
			t.Errorf("%s overlaps %s = %v, want %v (reversed)", tt.b, tt.a, got, tt.want)
		}
	}
}

// parseSpec decodes a field-map document (classes and routes) the way the
// config package does.
func parseSpec(t testing.TB, text, file string) Spec {
	t.Helper()
	spec := Spec{File: file}
	if _, err := strictyaml.Decode([]byte(text), file, &spec); err != nil {
		t.Fatalf("decode %s: %v", file, err)
	}
	return spec
}

// compileSpec compiles the field map text (file m.yaml), failing the test
// on any problem.
func compileSpec(t testing.TB, text string) *Map {
	t.Helper()
	m, err := Compile(parseSpec(t, text, "m.yaml"))
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return m
}

func loadQuickstart(t testing.TB) *Map {
	const file = "testdata/quickstart.yaml"
	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Compile(parseSpec(t, string(text), file))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestQuickstartRoutes(t *testing.T) {
	m := loadQuickstart(t)
	tests := []struct {
		method, path, route string // route "" means not protected
	}{
		{"POST", "/customers", "customers-write"},
		{"PUT", "/customers/1", "customers-write"},
		{"PATCH", "/customers/1/", "customers-write"},
		{"GET", "/customers", "customers-list"},
		{"GET", "/customers/7", "customers-get"},
		{"GET", "/CUSTOMERS/7", "customers-get"},
		{"DELETE", "/customers/7", ""},
		{"get", "/customers", ""},
		{"GET", "/customers/7/orders", ""},
		{"GET", "/orders", ""},
		{"POST", "/", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := m.Match(tt.method, tt.path)
			got := ""
			if r != nil {
				got = r.Name
			}
			if got != tt.route {
				t.Errorf("Match = %q, want %q", got, tt.route)
			}
		})
	}

	w := m.Match("POST", "/customers")
	if w.Request == nil || w.Response == nil || len(w.Request.Fields) != 3 {
		t.Fatalf("customers-write sides: %+v", w)
	}
	// Fields[i] must be what Plan path i matches.
	out, err := w.Request.Plan.Apply(nil, []byte(`{"phone":"1","email":"a","address":{"street":"s"}}`),
		func(out []byte, i int, _ []byte) ([]byte, error) {
			return append(out, `"`+w.Request.Fields[i].Class.Name+`"`...), nil
		})
	if err != nil || string(out) != `{"phone":"phone","email":"email","address":{"street":"street"}}` {
		t.Errorf("request plan = %s, %v", out, err)
	}
	list := m.Match("GET", "/customers")
	// A route that lists no request fields still guards its request body.
	if list.Request == nil || list.Request.HasPaths() || list.Response.Fields[0].Path != "#.email" || list.Response.Fields[2].Class.Name != "street" {
		t.Errorf("customers-list = request %+v response %+v", list.Request, list.Response)
	}
	var names []string
	for _, c := range m.Classes() {
		names = append(names, c.Name)
		if c.Deterministic {
			t.Errorf("class %s is deterministic in the quick start", c.Name)
		}
	}
	if strings.Join(names, ",") != "email,phone,street" {
		t.Errorf("Classes = %v", names)
	}
}

func TestDeterministicClass(t *testing.T) {
	m := compileYAML(t, "classes: {email: {mode: deterministic}, phone: }\n"+
		"routes:\n- name: r\n  methods: [GET]\n  paths: [/x]\n  response: [{path: email, class: email}, {path: phone, class: phone}]\n")
	r := m.Match("GET", "/x")
	if !r.Response.Fields[0].Class.Deterministic || r.Response.Fields[1].Class.Deterministic {
		t.Errorf("deterministic flags wrong: %+v %+v", r.Response.Fields[0].Class, r.Response.Fields[1].Class)
	}
	if r.Response.Fields[0].Class != m.Classes()[0] {
		t.Error("fields do not share the Map's class objects")
	}
}

func compileYAML(t *testing.T, body string) *Map {
	t.Helper()
	m := compileSpec(t, body)
	return m
}

func TestCompileReportsProblemsWithLines(t *testing.T) {
	const head = "# a field map\nclasses: {email: , phone: }\nroutes:\n" // routes start at line 4
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"an unknown class is reported at its field",
			"- name: r\n  methods: [GET]\n  paths: [/x]\n  response:\n    - {path: email, class: email}\n    - {path: ssn, class: ssn}\n",
			[]string{`m.yaml:9: response field "ssn": unknown class "ssn" (classes are: email, phone)`}},
		{"a query path is reported at its field",
			"- name: r\n  methods: [POST]\n  paths: [/x]\n  request:\n    - {path: \"users.#(age>1).email\", class: email}\n",
			[]string{`m.yaml:8: request field path "users.#(age>1).email": queries`}},
		{"a modifier path is reported at its field",
			"- name: r\n  methods: [POST]\n  paths: [/x]\n  request:\n    - {path: email, class: email}\n    - {path: \"@reverse\", class: phone}\n",
			[]string{`m.yaml:9: request field path "@reverse": modifiers`}},
		{"a path inside another path is reported",
			"- name: r\n  methods: [POST]\n  paths: [/x]\n  request:\n    - {path: address, class: email}\n    - {path: address.street, class: phone}\n",
			[]string{`m.yaml:9: request field path "address.street": lies inside the value of path "address"`}},
		{"a field listed twice is reported",
			"- name: r\n  methods: [POST]\n  paths: [/x]\n  request:\n    - {path: email, class: email}\n    - {path: email, class: phone}\n",
			[]string{`m.yaml:9: request field path "email": same value as path "email"`}},
		{"a key that a wildcard also matches is reported",
			"- name: r\n  methods: [GET]\n  paths: [/x]\n  response:\n    - {path: \"*_email\", class: email}\n    - {path: work_email, class: phone}\n",
			[]string{`m.yaml:9: response field path "work_email": matches a value that path "*_email" also matches`}},
		{"a bad path pattern is reported at its line",
			"- name: r\n  methods: [GET]\n  paths:\n    - /x\n    - /a/*/b\n  response: [{path: email, class: email}]\n",
			[]string{`m.yaml:8: path pattern "/a/*/b": * is only allowed as the last segment`}},
		{"a pattern mixing literal and parameter is reported",
			"- name: r\n  methods: [GET]\n  paths: [\"/a/id{x}\"]\n  response: [{path: email, class: email}]\n",
			[]string{`m.yaml:6: path pattern "/a/id{x}": segment id{x} mixes`}},
		{"an empty segment is reported",
			"- name: r\n  methods: [GET]\n  paths: [/a//b]\n  response: [{path: email, class: email}]\n",
			[]string{`m.yaml:6: path pattern "/a//b": has an empty segment`}},
		{"a repeated parameter is reported",
			"- name: r\n  methods: [GET]\n  paths: [\"/a/{id}/{id}\"]\n  response: [{path: email, class: email}]\n",
			[]string{`m.yaml:6: path pattern "/a/{id}/{id}": uses parameter {id} twice`}},
		{"a duplicate route name is reported at the second route",
			"- name: r\n  methods: [GET]\n  paths: [/a]\n  response: [{path: email, class: email}]\n" +
				"- name: r\n  methods: [GET]\n  paths: [/b]\n  response: [{path: email, class: email}]\n",
			[]string{`m.yaml:8: route name "r" is already used by the route at line 4`}},
		{"overlapping routes with neither more specific are reported",
			"- name: one\n  methods: [GET, PUT]\n  paths: [\"/a/{x}/c\"]\n  response: [{path: email, class: email}]\n" +
				"- name: two\n  methods: [PUT]\n  paths:\n    - \"/a/b/{y}\"\n  response: [{path: email, class: email}]\n",
			[]string{`m.yaml:11: route "two": PUT /a/b/{y} overlaps PUT /a/{x}/c of route "one" (line 6) and neither is more specific`}},
		{"routes whose patterns match the same paths are reported",
			"- name: one\n  methods: [GET]\n  paths: [\"/db/{id}\"]\n  response: [{path: email, class: email}]\n" +
				"- name: two\n  methods: [GET]\n  paths: [\"/DB/{doc}/\"]\n  response: [{path: email, class: email}]\n",
			[]string{`m.yaml:10: route "two": GET /DB/{doc}/ matches the same paths as GET /db/{id} of route "one" (line 6)`}},
		{"problems from several routes are all reported",
			"- name: one\n  methods: [GET]\n  paths: [/a]\n  response: [{path: email, class: nope}]\n" +
				"- name: two\n  methods: [GET]\n  paths: [/b/**]\n  response: [{path: \"a|b\", class: email}]\n",
			[]string{`m.yaml:7: response field "email": unknown class "nope"`, `m.yaml:10: path pattern "/b/**"`, `m.yaml:11: response field path "a|b": pipes`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(parseSpec(t, head+tt.yaml, "m.yaml"))
			if err == nil {
				t.Fatal("Compile succeeded")
			}
			sidecartest.WantProblems(t, err, tt.want)
		})
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	m := loadQuickstart(t)
	allocs := testing.AllocsPerRun(100, func() {
		_ = m.Match("GET", "/customers/42")
		_ = m.Match("DELETE", "/customers/42")
		_ = m.Match("PATCH", "/orders/1/")
	})
	if allocs != 0 {
		t.Errorf("Match allocates %v times per run", allocs)
	}
}

func BenchmarkMatch(b *testing.B) {
	m := loadQuickstart(b)
	b.ReportAllocs()
	for b.Loop() {
		if m.Match("GET", "/customers/42") == nil || m.Match("GET", "/orders/42") != nil {
			b.Fatal("wrong match")
		}
	}
}

func TestCompileGuard(t *testing.T) {
	classes := []ClassSpec{
		{Name: "email", Keys: []string{"email", "emailAddress"}, Line: 2},
		{Name: "phone", Keys: []string{"phone"}, Line: 3},
	}
	t.Run("defaults are seal, insensitive and refuse", func(t *testing.T) {
		m, err := Compile(Spec{Classes: classes, SealedPrefix: "fs1:"})
		if err != nil {
			t.Fatal(err)
		}
		g := m.Guard()
		if g.Unmatched != UnmatchedSeal || g.MemberCase != CaseInsensitive || g.SealedWrites != SealedWritesRefuse {
			t.Errorf("guard = %+v", g)
		}
		u := m.Unmatched()
		if u == nil || u.Name != UnmatchedRoute || u.Request == nil || u.Response == nil || len(u.Request.Members) != 3 {
			t.Fatalf("unmatched route = %+v", u)
		}
		out, err := u.Request.Plan.Apply(nil, []byte(`{"EmailAddress":"a","x":{"PHONE":"b"},"n":"fs1:x"}`), func(out []byte, i int, _ []byte) ([]byte, error) {
			f, ok := u.Request.Field(i)
			if !ok {
				return append(out, `"prefix"`...), nil
			}
			return append(out, `"`+f.Class.Name+`"`...), nil
		})
		if err != nil || string(out) != `{"EmailAddress":"email","x":{"PHONE":"phone"},"n":"prefix"}` {
			t.Errorf("unmatched request plan = %s, %v", out, err)
		}
	})
	for name, spec := range map[string]Spec{
		"a key two classes claim":        {Classes: []ClassSpec{{Name: "a", Keys: []string{"email"}, Line: 2}, {Name: "b", Keys: []string{"EMAIL"}, Line: 3}}},
		"an empty key":                   {Classes: []ClassSpec{{Name: "a", Keys: []string{""}, Line: 2}}},
		"an unknown unmatched setting":   {Guard: GuardSpec{Unmatched: "ignore", Line: 5}},
		"an unknown member case":         {Guard: GuardSpec{MemberCase: "upper", Line: 5}},
		"an unknown sealed writes value": {Guard: GuardSpec{SealedWrites: "maybe", Line: 5}},
		"a route named unmatched":        {Routes: []RouteSpec{{Name: UnmatchedRoute, Methods: []string{"GET"}, Paths: []PathSpec{{Pattern: "/a"}}, Line: 7}}},
	} {
		t.Run(name+" is refused with its line", func(t *testing.T) {
			_, err := Compile(spec)
			var le *lineerr.Error
			if !errors.As(err, &le) || le.Line == 0 {
				t.Fatalf("Compile = %v, want a line error", err)
			}
		})
	}
	t.Run("keys that differ only in case are two members when sensitive", func(t *testing.T) {
		_, err := Compile(Spec{Classes: []ClassSpec{{Name: "a", Keys: []string{"email"}}, {Name: "b", Keys: []string{"EMAIL"}}}, Guard: GuardSpec{MemberCase: CaseSensitive}})
		if err != nil {
			t.Fatal(err)
		}
	})
}
