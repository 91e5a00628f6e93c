package proxy

import (
	"errors"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/transform"
)

func TestFilterParamsReadAsFrameworksRead(t *testing.T) {
	for name, want := range map[string]bool{
		"filter": true, "FILTER": true, "[filter]": true, "filter]": true, "filter[]": true, " filter": true, "filter\x00x": true,
		"filters": false, "xfilter": false,
	} {
		if got := readsAs(name, "filter"); got != want {
			t.Errorf("readsAs(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestFilterComparisonsAreSealedOrRefused(t *testing.T) {
	m := compileFieldMap(t, `
classes:
  email: {mode: deterministic}
routes:
  - name: records
    methods: [GET]
    paths: [/records]
    query: [{param: filter, member: email, class: email}]
`, "filter.yaml")
	route := m.Match("GET", "/records")
	ring := testRing(t)
	f := route.QueryFilters[0]
	tests := []struct {
		name, expr string
		sealed     int    // literals sealed
		keep       string // text that must come out as it went in
		refused    bool
	}{
		{"an equality is sealed", "email='a@x.io'", 1, "email='fs1:", false},
		{"eq, !=, : and double quotes are sealed", `EMAIL eq 'a@x.io' || email!="b@x.io" || email:'c@x.io'`, 3, "EMAIL eq '", false},
		{"a doubled quote is part of the literal", "email='o''neil@x.io' && name='x'", 1, "&& name='x'", false},
		{"the member's name inside a literal is text", "name='email=plain' && email='a@x.io'", 1, "name='email=plain'", false},
		{"another member that ends like it is not it", "contact.email='kept@x.io'", 0, "contact.email='kept@x.io'", false},
		{"a member named in double quotes, as SQL does, is the member", `"email" = 'a@x.io' || "EMAIL"='b@x.io'`, 2, `"email" = '`, false},
		{"a double-quoted string equal to the member's name, compared, is text", `kind = "email" && email='a@x.io'`, 1, `kind = "email"`, false},
		{"another operator is refused", "email~'a'", 0, "", true},
		{"an unquoted value is refused", "email=a@x.io", 0, "", true},
		{"a list is refused", "email in ('a@x.io')", 0, "", true},
		{"an unclosed literal is refused", "name='x", 0, "", true},
		{"a backslash, read two ways, is refused", `email='x\' || email='a@x.io'`, 0, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := transform.New(transform.Params{Ring: ring, Side: route.FilterSide, Caller: lookupCaller{anonymous{}}})
			out, err := sealComparisons(tt.expr, f, tr)
			if tt.refused {
				if !errors.Is(err, ErrInvalidQuery) {
					t.Fatalf("got %q, %v; want ErrInvalidQuery", out, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(out, "fs1:"); n != tt.sealed || !strings.Contains(out, tt.keep) || strings.Contains(out, "a@x.io") {
				t.Fatalf("%s became %s", tt.expr, out)
			}
		})
	}
}
