package auth

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestScopeClaimsAsIssuersSendThem(t *testing.T) {
	iss := newTestIssuer(t, rsaTestKey())
	v := newVerifier(t, Options{Issuer: iss.url, ClientIDs: []string{"client-a"}})
	tests := []struct {
		name  string
		claim map[string]any // set on the token; nil deletes scope
		want  []string
	}{
		{"a space-separated scope string is split (RFC 9068, Cognito)",
			map[string]any{"scope": "customers/read  customers/write"}, []string{"customers/read", "customers/write"}},
		{"a scope array is taken element by element",
			map[string]any{"scope": []string{"customers/read", "customers/write"}}, []string{"customers/read", "customers/write"}},
		{"scp as one space-separated string is split (Entra ID)",
			map[string]any{"scope": nil, "scp": "customers/read customers/write"}, []string{"customers/read", "customers/write"}},
		{"scp as an array is taken element by element (Okta)",
			map[string]any{"scope": nil, "scp": []string{"customers/read"}}, []string{"customers/read"}},
		{"scope and scp are both read",
			map[string]any{"scope": []string{"a"}, "scp": "b c"}, []string{"a", "b", "c"}},
		{"a null scope is no scope",
			map[string]any{"scope": json.RawMessage("null")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := iss.claims()
			for k, val := range tt.claim {
				if val == nil {
					delete(c, k)
					continue
				}
				c[k] = val
			}
			id, err := v.Verify(t.Context(), sign(t, rsaTestKey(), c))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(id.Scopes, tt.want) {
				t.Fatalf("scopes = %q, want %q", id.Scopes, tt.want)
			}
		})
	}
	for name, bad := range map[string]any{"a number": 7, "an object": map[string]string{"a": "b"}, "an array of numbers": []int{1}} {
		t.Run("a scope claim that is "+name+" makes the token malformed", func(t *testing.T) {
			c := iss.claims()
			c["scope"] = bad
			_, err := v.Verify(t.Context(), sign(t, rsaTestKey(), c))
			if e, ok := err.(*Error); !ok || e.Reason != ReasonMalformed {
				t.Fatalf("err = %v, want reason %s", err, ReasonMalformed)
			}
		})
	}
}
