package policy

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/auth"
	"github.com/fieldseal/fieldseal/internal/strictyaml"
	"github.com/fieldseal/fieldseal/lineerr"
	"github.com/fieldseal/fieldseal/transform"
)

var classes = []string{"email", "phone", "street", "rrn"}

const example = `
policies:
  allow_anonymous: true
  default:
    actions: {"*": sealed}
    write: all
  callers:
    - id: billing
      match: {client_ids: [billing-app], scopes: [customers/read]}
      actions: {email: decrypt, phone: mask, rrn: deny, "*": sealed}
      write: [email, phone]
    - id: support
      match: {groups: [support, ops]}
      actions: {"*": mask}
      write: none
    - id: ingest
      match: {client_ids: [ingest-app]}
      read: false
    - id: billing-fallback
      match: {client_ids: [billing-app]}
      actions: {email: mask}
`

// policiesDoc is a YAML document holding only a policies: section.
type policiesDoc struct {
	Policies Spec `yaml:"policies"`
}

// parse decodes doc the way the config package does.
func parse(t testing.TB, doc string) Spec {
	t.Helper()
	var root policiesDoc
	if _, err := strictyaml.Decode([]byte(doc), "p.yaml", &root); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return root.Policies
}

func compile(t *testing.T, doc string) *Policy {
	t.Helper()
	p, err := Compile(parse(t, doc), classes)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return p
}

func TestResolve(t *testing.T) {
	p := compile(t, example)
	type want struct {
		id      string
		actions map[string]transform.Action
		write   map[string]bool
	}
	tests := []struct {
		name string
		id   *auth.Identity
		want want
	}{
		{"a caller matching client id and scope gets its actions", &auth.Identity{ClientID: "billing-app", Scopes: []string{"openid", "customers/read"}},
			want{"billing", map[string]transform.Action{"email": transform.ActionDecrypt, "phone": transform.ActionMask, "rrn": transform.ActionDeny, "street": transform.ActionSealed},
				map[string]bool{"email": true, "phone": true, "street": false}}},
		{"every kind in a match must hold, so the next caller wins", &auth.Identity{ClientID: "billing-app"},
			want{"billing-fallback", map[string]transform.Action{"email": transform.ActionMask, "phone": transform.ActionSealed},
				map[string]bool{"email": true, "rrn": true}}},
		{"a group match selects a read-only masking caller", &auth.Identity{ClientID: "x", Groups: []string{"ops"}},
			want{"support", map[string]transform.Action{"email": transform.ActionMask, "rrn": transform.ActionMask},
				map[string]bool{"email": false, "phone": false}}},
		{"a write-only caller reads everything sealed", &auth.Identity{ClientID: "ingest-app"},
			want{"ingest", map[string]transform.Action{"email": transform.ActionSealed, "rrn": transform.ActionSealed},
				map[string]bool{"email": true, "street": true}}},
		{"the first matching caller wins", &auth.Identity{ClientID: "ingest-app", Groups: []string{"support"}},
			want{"support", map[string]transform.Action{"email": transform.ActionMask}, nil}},
		{"an unmatched token gets the default rule", &auth.Identity{ClientID: "stranger", Subject: "user-123"},
			want{IDDefault, map[string]transform.Action{"email": transform.ActionSealed, "phone": transform.ActionSealed}, map[string]bool{"email": true}}},
		{"no token gets the default rule as anonymous", nil,
			want{IDAnonymous, map[string]transform.Action{"email": transform.ActionSealed}, map[string]bool{"phone": true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := p.Resolve(tt.id)
			if c.ID() != tt.want.id {
				t.Fatalf("caller = %q, want %q", c.ID(), tt.want.id)
			}
			for class, a := range tt.want.actions {
				if got := c.Action(class); got != a {
					t.Errorf("Action(%s) = %v, want %v", class, got, a)
				}
			}
			for class, w := range tt.want.write {
				if got := c.MayWrite(class); got != w {
					t.Errorf("MayWrite(%s) = %v, want %v", class, got, w)
				}
			}
		})
	}
}

func TestBuiltinDefaultIsLeastPrivilege(t *testing.T) {
	p := compile(t, "policies: {callers: []}\n")
	if p.AllowAnonymous() {
		t.Fatal("anonymous allowed by default")
	}
	c := p.Resolve(&auth.Identity{ClientID: "anyone"})
	for _, class := range append(classes, "unknown-class") {
		if c.Action(class) != transform.ActionSealed || !c.MayWrite(class) {
			t.Fatalf("default for %s: %v, write %v; want sealed, write", class, c.Action(class), c.MayWrite(class))
		}
	}
	if ids := p.CallerIDs(); len(ids) != 2 {
		t.Fatalf("caller ids = %v", ids)
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		{"unknown classes and actions are reported with their lines", `
policies:
  callers:
    - id: a
      match: {client_ids: [x]}
      actions:
        emial: decrypt
        phone: reveal
      write: [streat]
`, []string{`line 7: caller "a": unknown class "emial"`, `line 8: caller "a", class "phone": unknown action "reveal"`, `line 9: caller "a": unknown class "streat" in write`}},
		{"ids must be unique, valid and not reserved", `
policies:
  callers:
    - {id: a, match: {client_ids: [x]}}
    - {id: a, match: {client_ids: [y]}}
    - {id: anonymous, match: {client_ids: [z]}}
    - {id: "Bad Id", match: {client_ids: [z]}}
`, []string{`line 5: caller id "a" already used at line 4`, `line 6: caller id "anonymous" is reserved`, `line 7: caller id "Bad Id"`}},
		{"an empty match is refused", `
policies:
  callers:
    - id: everyone
      match: {}
`, []string{`line 5: caller "everyone": match needs`}},
		{"read false conflicts with decrypt", `
policies:
  default:
    read: false
    actions: {email: decrypt}
`, []string{`line 5: caller "default" has read: false but decrypt`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(parse(t, tt.doc), classes)
			if !errors.Is(err, ErrPolicy) {
				t.Fatalf("err = %v, want ErrPolicy", err)
			}
			var pe *lineerr.Error
			if !errors.As(err, &pe) || pe.Line == 0 {
				t.Fatalf("err = %v, want a *lineerr.Error with a line", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if got, want := strings.Count(err.Error(), "\n")+1, len(tt.want); got != want {
				t.Errorf("%d errors, want %d:\n%v", got, want, err)
			}
		})
	}
}

func TestStrictYAML(t *testing.T) {
	for _, doc := range []string{
		"policies: {callers: [{id: a, match: {client_id: [x]}}]}\n",
		"policies: {callers: [{id: a, match: {client_ids: [x]}, action: {email: decrypt}}]}\n",
		"policies: {default: {writes: all}}\n",
		"policies: {anonymous: true}\n",
		"policies: {default: {write: some}}\n",
	} {
		var root policiesDoc
		_, err := strictyaml.Decode([]byte(doc), "p.yaml", &root)
		var pe *lineerr.Error
		if !errors.As(err, &pe) || pe.Line != 1 {
			t.Errorf("%s: err = %v, want a *lineerr.Error at line 1", doc, err)
		}
	}
}

// verifierFunc adapts a function to Verifier; the real auth.Verifier is
// tested in package auth, here only the anonymous/401 branching matters.
type verifierFunc func(ctx context.Context, token string) (*auth.Identity, error)

func (f verifierFunc) Verify(ctx context.Context, token string) (*auth.Identity, error) {
	return f(ctx, token)
}

func TestAuthenticate(t *testing.T) {
	v := verifierFunc(func(_ context.Context, token string) (*auth.Identity, error) {
		if token == "good" {
			return &auth.Identity{ClientID: "ingest-app"}, nil
		}
		return nil, &auth.Error{Reason: auth.ReasonBadSignature}
	})
	req := func(authz string) *http.Request {
		r, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		return r
	}
	open := compile(t, example)
	closed := compile(t, strings.Replace(example, "allow_anonymous: true", "allow_anonymous: false", 1))
	tests := []struct {
		name   string
		p      *Policy
		authz  string
		caller string
		reason auth.Reason
	}{
		{"a good token resolves its caller", closed, "Bearer good", "ingest", ""},
		{"no token is anonymous when allowed", open, "", IDAnonymous, ""},
		{"no token is refused when anonymous is not allowed", closed, "", "", auth.ReasonMissing},
		{"a bad token never falls back to anonymous", open, "Bearer forged", "", auth.ReasonBadSignature},
		{"a non-bearer header never falls back to anonymous", open, "Basic eDp5", "", auth.ReasonMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := tt.p.Authenticate(req(tt.authz), v)
			if auth.ReasonOf(err) != tt.reason {
				t.Fatalf("reason = %q, want %q", auth.ReasonOf(err), tt.reason)
			}
			if tt.caller != "" && (c == nil || c.ID() != tt.caller) {
				t.Fatalf("caller = %v, want %q", c, tt.caller)
			}
		})
	}
}

func BenchmarkResolveAndAction(b *testing.B) {
	p, err := Compile(parse(b, example), classes)
	if err != nil {
		b.Fatal(err)
	}
	id := &auth.Identity{ClientID: "stranger", Groups: []string{"x"}}
	b.ReportAllocs()
	for b.Loop() {
		c := p.Resolve(id)
		_ = c.Action("email")
		_ = c.MayWrite("phone")
	}
}
