package proxy

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"github.com/tidwall/gjson"

	"github.com/fieldseal/fieldseal/audit"
	"github.com/fieldseal/fieldseal/auth"
	"github.com/fieldseal/fieldseal/internal/strictyaml"
	"github.com/fieldseal/fieldseal/mask"
	"github.com/fieldseal/fieldseal/policy"
)

// The policy used through the proxy: one caller per action, a write-only
// caller and a read-only one.
const callersYAML = `
policies:
  allow_anonymous: false
  callers:
    - id: reader
      match: {client_ids: [reader-app]}
      actions: {email: decrypt, phone: mask, street: sealed, ssn: deny}
      write: [email, phone, street]
    - id: ingest
      match: {client_ids: [ingest-app]}
      read: false
    - id: support
      match: {groups: [support]}
      actions: {"*": mask}
      write: none
`

// issuer is a real JWKS endpoint with a generated RSA key.
type issuer struct {
	url string
	key *rsa.PrivateKey
}

var issuerKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	iss := &issuer{key: issuerKey()}
	store := jwkset.NewMemoryStorage()
	jwk, err := jwkset.NewJWKFromKey(&iss.key.PublicKey, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: "k1", ALG: jwkset.AlgRS256, USE: jwkset.UseSig}})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.KeyWrite(context.Background(), jwk); err != nil {
		t.Fatal(err)
	}
	body, err := store.JSONPublic(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	iss.url = srv.URL
	return iss
}

func (iss *issuer) token(t *testing.T, clientID string, groups ...string) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": iss.url, "sub": "s-" + clientID, "client_id": clientID, "token_use": "access",
		"cognito:groups": groups, "exp": time.Now().Add(time.Hour).Unix(),
	})
	tok.Header["kid"] = "k1"
	s, err := tok.SignedString(iss.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// callerHarness is a proxy whose callers are authenticated by a real
// auth.Verifier and resolved by a compiled policy, masking with mask.Set.
func callerHarness(t *testing.T, iss *issuer, respond func(w http.ResponseWriter, r *http.Request, body []byte), events chan<- RequestEvent, more ...func(*Options)) *harness {
	t.Helper()
	var root struct {
		Policies policy.Spec `yaml:"policies"`
	}
	if _, err := strictyaml.Decode([]byte(callersYAML), "callers.yaml", &root); err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Compile(root.Policies, []string{"email", "phone", "street", "ssn", "profile", "note"})
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.New(context.Background(), auth.Options{Issuer: iss.url, ClientIDs: []string{"reader-app", "ingest-app", "support-app"}, TokenUse: "access"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	masks, err := mask.NewSet(map[string]mask.Spec{"email": {Format: "email"}, "phone": {Format: "phone"}})
	if err != nil {
		t.Fatal(err)
	}
	return newHarness(t, respond, func(o *Options) {
		o.Authenticator = PolicyAuthenticator{Policy: pol, Verifier: v}
		o.Masker = masks
		if events != nil {
			o.Observer = func(e RequestEvent) { events <- e }
		}
		for _, m := range more {
			m(o)
		}
	})
}

func bearer(tok string) http.Header {
	h := jsonHeader()
	h.Set("Authorization", "Bearer "+tok)
	return h
}

func TestPolicyActionsThroughTheProxy(t *testing.T) {
	iss := newIssuer(t)
	var stored string // the sealed record the upstream holds
	respond := func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(stored))
	}
	h := callerHarness(t, iss, respond, nil)
	stored = `{"id":7,"email":"` + sealFor(t, h.ring, "email", "", `"ada@example.com"`) +
		`","phone":"` + sealFor(t, h.ring, "phone", "", `"+44 20 7946 0000"`) +
		`","address":{"street":"` + sealFor(t, h.ring, "street", "", `"12 Analytical Way"`) + `"}}`

	t.Run("a caller gets decrypt, mask and sealed per class", func(t *testing.T) {
		resp, body := h.do(t, http.MethodGet, "/customers/7", bearer(iss.token(t, "reader-app")), nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		doc := gjson.ParseBytes(body)
		if got := doc.Get("email").Str; got != "ada@example.com" {
			t.Errorf("email = %q, want the plaintext", got)
		}
		if got := doc.Get("phone").Str; got != "fsm:+** ** **** 0000" {
			t.Errorf("phone = %q, want the masked value", got)
		}
		if got := doc.Get("address.street").Str; !strings.HasPrefix(got, "fs1:") {
			t.Errorf("street = %q, want the sealed value", got)
		}
	})
	t.Run("a write-only caller reads everything sealed", func(t *testing.T) {
		_, body := h.do(t, http.MethodGet, "/customers/7", bearer(iss.token(t, "ingest-app")), nil)
		for _, p := range []string{"email", "phone", "address.street"} {
			if got := gjson.GetBytes(body, p).Str; !strings.HasPrefix(got, "fs1:") {
				t.Errorf("%s = %q, want sealed", p, got)
			}
		}
	})
	t.Run("a group-matched caller gets masks, full where the class has no format", func(t *testing.T) {
		_, body := h.do(t, http.MethodGet, "/customers/7", bearer(iss.token(t, "support-app", "support")), nil)
		doc := gjson.ParseBytes(body)
		if doc.Get("email").Str != "fsm:a***@example.com" || doc.Get("address.street").Str != "fsm:***" {
			t.Errorf("masked record = %s", body)
		}
	})
}

func TestPolicyWritesThroughTheProxy(t *testing.T) {
	iss := newIssuer(t)
	events := make(chan RequestEvent, 16)
	h := callerHarness(t, iss, nil, events)
	tests := []struct {
		name     string
		header   http.Header
		body     string
		status   int
		code     string
		forwards bool
	}{
		{"a write-only caller's values are sealed before the app sees them", bearer(iss.token(t, "ingest-app")),
			`{"email":"ada@example.com","phone":"+44 20 7946 0000","ssn":"123-45-6789"}`, http.StatusOK, "", true},
		{"a class denied to the caller refuses the write", bearer(iss.token(t, "reader-app")),
			`{"email":"ada@example.com","ssn":"123-45-6789"}`, http.StatusForbidden, "forbidden", false},
		{"a read-only caller may not write", bearer(iss.token(t, "support-app", "support")),
			`{"email":"ada@example.com"}`, http.StatusForbidden, "forbidden", false},
		{"a masked value written back is refused", bearer(iss.token(t, "reader-app")),
			`{"email":"ada@example.com","phone":"fsm:+** ** **** 0000"}`, http.StatusUnprocessableEntity, "masked_value", false},
		{"an escaped masked value is refused too", bearer(iss.token(t, "reader-app")),
			`{"phone":"\u0066sm:+** ** **** 0000"}`, http.StatusUnprocessableEntity, "masked_value", false},
		{"no token is refused", jsonHeader(), `{"email":"ada@example.com"}`, http.StatusUnauthorized, "unauthenticated", false},
		{"a token from another key is refused", bearer(forged(t, iss)), `{"email":"ada@example.com"}`, http.StatusUnauthorized, "unauthenticated", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(h.up.requests())
			resp, body := h.do(t, http.MethodPost, "/customers", tt.header, strings.NewReader(tt.body))
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if tt.code != "" && errorCode(t, body) != tt.code {
				t.Fatalf("code %q, want %q", errorCode(t, body), tt.code)
			}
			reqs := h.up.requests()
			if forwarded := len(reqs) > before; forwarded != tt.forwards {
				t.Fatalf("forwarded = %v, want %v", forwarded, tt.forwards)
			}
			if tt.forwards && containsAny(reqs[len(reqs)-1].Body, "ada@example.com", "20 7946", "123-45-6789") {
				t.Fatalf("the app saw plaintext: %s", reqs[len(reqs)-1].Body)
			}
			// Every caller id that reaches metrics and audit is a configured one.
			switch e := nextEvent(t, events); e.CallerID {
			case "", "reader", "ingest", "support":
			default:
				t.Fatalf("caller id %q is not from the configuration", e.CallerID)
			}
		})
	}
	t.Run("the refusal reason is in the 401 message", func(t *testing.T) {
		_, body := h.do(t, http.MethodPost, "/customers", bearer(forged(t, iss)), strings.NewReader(`{}`))
		if msg := gjson.GetBytes(body, "error.message").Str; !strings.Contains(msg, "bad_signature") {
			t.Fatalf("message = %q", msg)
		}
		nextEvent(t, events)
	})
}

// nextEvent waits for the observer event of the request just made (the
// proxy emits it after the response is sent).
func nextEvent(t *testing.T, events <-chan RequestEvent) RequestEvent {
	t.Helper()
	select {
	case e := <-events:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no observer event for the request")
		return RequestEvent{}
	}
}

// forged is a well-formed token for the issuer signed with another key.
func forged(t *testing.T, iss *issuer) string {
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return (&issuer{url: iss.url, key: other}).token(t, "reader-app")
}

func TestRequestEventsFeedTheAuditChain(t *testing.T) {
	iss := newIssuer(t)
	var buf bytes.Buffer
	w, err := audit.New(&buf, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan RequestEvent, 4)
	h := callerHarness(t, iss, nil, events)
	for _, req := range []struct {
		header http.Header
		body   string
	}{
		{bearer(iss.token(t, "reader-app")), `{"email":"ada@example.com","phone":"+44 20 7946 0000"}`},
		{bearer(iss.token(t, "reader-app")), `{"phone":"fsm:+** ** **** 0000"}`},
		{jsonHeader(), `{"email":"ada@example.com"}`},
	} {
		h.do(t, http.MethodPost, "/customers", req.header, strings.NewReader(req.body))
		if err := w.Write(AuditEvent(nextEvent(t, events))); err != nil {
			t.Fatal(err)
		}
	}

	if bytes.Contains(buf.Bytes(), []byte("ada@")) || bytes.Contains(buf.Bytes(), []byte("20 7946")) {
		t.Fatalf("the audit trail holds a value:\n%s", buf.String())
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d audit lines, want start + 3:\n%s", len(lines), buf.String())
	}
	want := []map[string]string{
		{"caller": "reader", "outcome": "ok", "actions.email": "seal,decrypt", "actions.phone": "seal,mask", "fields.email": "2"},
		{"caller": "reader", "outcome": "denied", "reason": "masked_value", "status": "422"},
		{"outcome": "unauthenticated", "status": "401"},
	}
	for i, w := range want {
		for k, v := range w {
			if got := gjson.Get(lines[i+1], k).String(); got != v {
				t.Errorf("line %d: %s = %q, want %q\n%s", i+2, k, got, v, lines[i+1])
			}
		}
	}
	if _, err := audit.Verify(&buf); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}
