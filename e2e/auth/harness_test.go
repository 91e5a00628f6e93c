// Package authe2e_test runs issue 4 end to end: the fieldseal binary built
// from this repository, in front of a real HTTP upstream, on the local key
// provider, with callers authenticated by real bearer tokens (Cognito access
// tokens from the moto emulator, and tokens from a test issuer with a
// generated RSA key for what Cognito cannot produce), policies from the
// config, masking, the hash-chained audit file and the metrics.
package authe2e_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// fieldsealBin is the binary TestMain builds once for every test of the run.
var fieldsealBin string

func TestMain(m *testing.M) {
	os.Exit(sidecartest.RunWithBinary(m, &fieldsealBin))
}

// sidecar is one running `fieldseal serve` on the local key provider in
// front of a sidecartest.Store, with the customers field map
// (sidecartest.MaskedCustomers), an auth section and policies.
type sidecar struct {
	*sidecartest.Sidecar
	requests atomic.Int64 // requests sent to protected routes
}

// startSidecar starts a sidecar in front of up and waits until it is ready.
func startSidecar(t *testing.T, up *sidecartest.Store, authSection, policies string) *sidecar {
	t.Helper()
	return &sidecar{Sidecar: sidecartest.Start(t, fieldsealBin, sidecartest.Config{
		Upstream: up.URL(), FieldMap: sidecartest.MaskedCustomers + authSection + "\n" + policies,
	})}
}

// do sends a request to a protected route through the sidecar, with
// `Authorization: Bearer token` unless token is "", and returns the status,
// the decoded object (nil if not one) and the raw body.
func (s *sidecar) do(t *testing.T, method, path, token string, body string) (int, map[string]any, []byte) {
	t.Helper()
	h := map[string]string{}
	if token != "" {
		h["Authorization"] = "Bearer " + token
	}
	s.requests.Add(1)
	resp := s.Do(t, sidecartest.Req{Method: method, Path: path, Header: h, JSON: body})
	var obj map[string]any
	_ = json.Unmarshal(resp.Body, &obj)
	return resp.Status, obj, resp.Body
}

// verifyAudit runs `fieldseal audit verify` on an audit file.
func (s *sidecar) verifyAudit(t *testing.T, path string) (stdout, stderr string, code int) {
	t.Helper()
	r := s.Exec(t, "audit", "verify", path)
	return string(r.Stdout), string(r.Stderr), r.Code
}

// metrics scrapes the sidecar's /metrics and returns it parsed and as text.
func (s *sidecar) metrics(t *testing.T) (sidecartest.Families, []byte) {
	t.Helper()
	resp, err := sidecartest.Get(s.AdminURL + "/metrics")
	if err != nil || resp.Status != http.StatusOK {
		t.Fatalf("/metrics: %d %v", resp.Status, err)
	}
	return sidecartest.ParseText(t, resp.Body), resp.Body
}

// storedJSON is the record the store holds under id, as JSON text.
func storedJSON(t *testing.T, up *sidecartest.Store, id string) []byte {
	t.Helper()
	b, err := json.Marshal(up.Record(id))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// allReceived is every request body the store received, concatenated.
func allReceived(up *sidecartest.Store) []byte {
	var b []byte
	for _, r := range up.Received() {
		b = append(append(b, r.Body...), '\n')
	}
	return b
}

// auditEvent is the part of an audit line these tests read.
type auditEvent struct {
	Seq       int               `json:"seq"`
	Type      string            `json:"type"`
	RequestID string            `json:"request_id"`
	Caller    string            `json:"caller"`
	Route     string            `json:"route"`
	Method    string            `json:"method"`
	Actions   map[string]string `json:"actions"`
	Fields    map[string]int    `json:"fields"`
	KeyIDs    []uint32          `json:"key_ids"`
	Outcome   string            `json:"outcome"`
	Status    int               `json:"status"`
	Reason    string            `json:"reason"`
}

func readAudit(t *testing.T, path string) ([]byte, []auditEvent) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var events []auditEvent
	for i, line := range bytes.Split(bytes.TrimRight(raw, "\n"), []byte("\n")) {
		var e auditEvent
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("audit line %d is not JSON: %v", i+1, err)
		}
		events = append(events, e)
	}
	return raw, events
}

// signed is c signed by method with key, naming kid in its header.
func signed(t *testing.T, method jwt.SigningMethod, kid string, key any, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, c)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// unsigned is the token with alg "none" and an empty signature, naming the
// issuer's real kid.
func unsigned(t *testing.T, iss *sidecartest.Issuer, c jwt.MapClaims) string {
	t.Helper()
	return signed(t, jwt.SigningMethodNone, iss.KID(), jwt.UnsafeAllowNoneSignatureType, c)
}

// hmacWithPublicKey is the algorithm-confusion attack: an HS256 token whose
// HMAC key is the issuer's RSA public key as published (PEM), naming the
// issuer's kid.
func hmacWithPublicKey(t *testing.T, iss *sidecartest.Issuer, c jwt.MapClaims) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(iss.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return signed(t, jwt.SigningMethodHS256, iss.KID(), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), c)
}

// signRogue signs c with a key the issuer does not publish, under a kid
// the JWKS does not list.
func signRogue(t *testing.T, c jwt.MapClaims) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return signed(t, jwt.SigningMethodRS256, "e2e-rogue", key, c)
}

// payload decodes a token's claims without verifying it.
func payload(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatal("not a JWT")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// countTypes counts audit events by type.
func countTypes(events []auditEvent) map[string]int {
	n := map[string]int{}
	for _, e := range events {
		n[e.Type]++
	}
	return n
}

// tamperPayload sets claim to value in a signed token's payload and keeps
// the original header and signature.
func tamperPayload(t *testing.T, token, claim string, value any) string {
	t.Helper()
	c := payload(t, token)
	c[claim] = value
	raw, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(token, ".")
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(raw) + "." + parts[2]
}
