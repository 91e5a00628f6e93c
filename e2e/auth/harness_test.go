// Package authe2e_test runs issue 4 end to end: the fieldseal binary built
// from this repository, in front of a real HTTP upstream, on the local key
// provider, with callers authenticated by real bearer tokens (Cognito access
// tokens from the moto emulator, and tokens from a test issuer with a
// generated RSA key for what Cognito cannot produce), policies from the
// config, masking, the hash-chained audit file and the metrics.
package authe2e_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/fieldseal/fieldseal/internal/testproc"
)

// fieldsealBin is the binary TestMain builds once for every test of the run.
var fieldsealBin string

func TestMain(m *testing.M) {
	os.Exit(testproc.RunWithBuild(m, "../../cmd/fieldseal", &fieldsealBin))
}

// fieldseal runs a one-shot fieldseal command and returns its stdout,
// stderr and exit code; it fails the test only if the command cannot run.
func fieldseal(t *testing.T, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, fieldsealBin, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("fieldseal %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errb.String(), code
}

// upstream is the protected app: a tiny REST store of JSON records that
// keeps what it received, so tests can check what reached it (and what did
// not). POST /customers stores the body under a new id and answers 201 with
// the stored record; GET, PUT and PATCH /customers/{id} read, replace and
// merge (top-level keys) one record.
type upstream struct {
	srv *httptest.Server

	mu       sync.Mutex
	records  map[string]map[string]json.RawMessage
	nextID   int
	received []received
}

// received is one request as the upstream saw it.
type received struct {
	Method, Path string
	Body         []byte
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{records: map[string]map[string]json.RawMessage{}}
	u.srv = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.received = append(u.received, received{Method: r.Method, Path: r.URL.Path, Body: body})
	reply := func(status int, rec map[string]json.RawMessage) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(rec)
	}
	id, hasID := strings.CutPrefix(r.URL.Path, "/customers/")
	switch {
	case r.URL.Path == "/customers" && r.Method == http.MethodPost:
		var rec map[string]json.RawMessage
		if err := json.Unmarshal(body, &rec); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		u.nextID++
		rec["id"] = json.RawMessage(strconv.Itoa(u.nextID))
		u.records[strconv.Itoa(u.nextID)] = rec
		reply(http.StatusCreated, rec)
	case hasID && u.records[id] != nil && r.Method == http.MethodGet:
		reply(http.StatusOK, u.records[id])
	case hasID && u.records[id] != nil && (r.Method == http.MethodPut || r.Method == http.MethodPatch):
		var in map[string]json.RawMessage
		if err := json.Unmarshal(body, &in); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		rec := in
		if r.Method == http.MethodPatch {
			rec = u.records[id]
			for k, v := range in {
				rec[k] = v
			}
		}
		rec["id"] = json.RawMessage(id)
		u.records[id] = rec
		reply(http.StatusOK, rec)
	default:
		http.NotFound(w, r)
	}
}

// requests is the number of requests the upstream received so far.
func (u *upstream) requests() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.received)
}

// allReceived is every request body the upstream received, concatenated.
func (u *upstream) allReceived() []byte {
	u.mu.Lock()
	defer u.mu.Unlock()
	var b []byte
	for _, r := range u.received {
		b = append(append(b, r.Body...), '\n')
	}
	return b
}

// record is the stored record id as JSON text.
func (u *upstream) record(t *testing.T, id string) []byte {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	b, err := json.Marshal(u.records[id])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The field map every sidecar in these tests runs: customer records whose
// e-mail, phone and resident registration number are sealed on writes and
// opened (per the caller's policy) on reads.
const fieldMapYAML = `
classes:
  email: {mode: random, mask: email}
  phone: {mode: random, mask: phone}
  rrn:   {mode: random, mask: kr_rrn}

routes:
  - name: customers-write
    methods: [POST, PUT, PATCH]
    paths: [/customers, "/customers/{id}"]
    request:
      - {path: email, class: email}
      - {path: phone, class: phone}
      - {path: rrn, class: rrn}
    response:
      - {path: email, class: email}
      - {path: phone, class: phone}
      - {path: rrn, class: rrn}
  - name: customers-get
    methods: [GET]
    paths: ["/customers/{id}"]
    response:
      - {path: email, class: email}
      - {path: phone, class: phone}
      - {path: rrn, class: rrn}
`

// sidecar is one running `fieldseal serve`.
type sidecar struct {
	dir, config, audit, log string
	proxy, admin            string
	proc                    *testproc.Process
	requests                atomic.Int64 // requests sent to protected routes
}

// startSidecar writes a config (the field map, authSection and policies,
// the local key provider, a file audit trail), creates the keys with the
// binary's own commands, starts `fieldseal serve` and waits until it is ready.
func startSidecar(t *testing.T, up *upstream, authSection, policies string) *sidecar {
	t.Helper()
	dir := t.TempDir()
	s := &sidecar{
		dir: dir, config: filepath.Join(dir, "fieldseal.yaml"), audit: filepath.Join(dir, "audit.log"),
		log: filepath.Join(dir, "fieldseal.log"),
	}
	proxyPort, adminPort := testproc.FreePort(t), testproc.FreePort(t)
	s.proxy = fmt.Sprintf("http://127.0.0.1:%d", proxyPort)
	s.admin = fmt.Sprintf("http://127.0.0.1:%d", adminPort)
	cfg := fmt.Sprintf(`listen: 127.0.0.1:%d
upstream: %s
admin_listen: 127.0.0.1:%d
keys:
  provider: local
  local:
    ring_file: ring.json
    master_key_file: master.key
log:
  level: info
  format: json
audit:
  sink: file
  file: %s
%s
%s
%s
`, proxyPort, up.srv.URL, adminPort, s.audit, fieldMapYAML, authSection, policies)
	if err := os.WriteFile(s.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	key, stderr, code := fieldseal(t, dir, "keys", "master-key")
	if code != 0 {
		t.Fatalf("fieldseal keys master-key: exit %d: %s", code, stderr)
	}
	if err := os.WriteFile(filepath.Join(dir, "master.key"), []byte(key), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := fieldseal(t, dir, "keys", "init", "--config", s.config); code != 0 {
		t.Fatalf("fieldseal keys init: exit %d: %s", code, stderr)
	}

	s.start(t)
	return s
}

// start runs `fieldseal serve` on the sidecar's config (appending to its
// log), kills it at the end of the test if it still runs, and waits until
// it is ready: /readyz answers 200 (keys loaded), at most 30s.
func (s *sidecar) start(t *testing.T) {
	t.Helper()
	s.proc = testproc.Start(t, testproc.Options{Dir: s.dir, Log: s.log}, fieldsealBin, "serve", "--config", s.config)
	s.proc.WaitHTTP(t, s.admin+"/readyz", 30*time.Second, nil)
}

// stop sends SIGTERM and waits (at most 20s) for a clean exit.
func (s *sidecar) stop(t *testing.T) {
	t.Helper()
	if err := s.proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-s.proc.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("fieldseal serve did not stop within 20s of SIGTERM")
	}
	if err := s.proc.Err(); err != nil {
		t.Fatalf("fieldseal serve exited with %v after SIGTERM", err)
	}
}

// get fetches url (bounded) and returns status and body; status 0 if it
// could not connect.
func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// do sends a request to a protected route through the sidecar, with
// `Authorization: Bearer token` unless token is "", and returns the status,
// the decoded object (nil if not one) and the raw body.
func (s *sidecar) do(t *testing.T, method, path, token string, body string) (int, map[string]any, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.proxy+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	s.requests.Add(1)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	_ = json.Unmarshal(raw, &obj)
	return resp.StatusCode, obj, raw
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

// testIssuer is a real OIDC-style issuer for the tests: an HTTP JWKS
// endpoint publishing the public half of an RSA key generated for the run.
type testIssuer struct {
	url string
	key *rsa.PrivateKey
}

const issuerKID = "e2e-rsa-1"

func newTestIssuer(t *testing.T) *testIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	store := jwkset.NewMemoryStorage()
	jwk, err := jwkset.NewJWKFromKey(&key.PublicKey, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{
		KID: issuerKID, ALG: jwkset.AlgRS256, USE: jwkset.UseSig,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.KeyWrite(ctx, jwk); err != nil {
		t.Fatal(err)
	}
	jwks, err := store.JSONPublic(ctx)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/jwks.json" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	}))
	t.Cleanup(srv.Close)
	return &testIssuer{url: srv.URL, key: key}
}

// claims are a valid Cognito-shaped access token's claims for this issuer.
func (iss *testIssuer) claims(clientID, subject, scope string, groups ...string) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{
		"iss": iss.url, "sub": subject, "client_id": clientID, "token_use": "access",
		"username": "user-" + subject, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	if scope != "" {
		c["scope"] = scope
	}
	if len(groups) > 0 {
		c["cognito:groups"] = groups
	}
	return c
}

func (iss *testIssuer) sign(t *testing.T, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = issuerKID
	s, err := tok.SignedString(iss.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// unsigned is the token with alg "none" and an empty signature, naming the
// issuer's real kid.
func unsigned(t *testing.T, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodNone, c)
	tok.Header["kid"] = issuerKID
	s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// hmacWithPublicKey is the algorithm-confusion attack: an HS256 token whose
// HMAC key is the issuer's RSA public key as published (PEM), naming the
// issuer's kid.
func (iss *testIssuer) hmacWithPublicKey(t *testing.T, c jwt.MapClaims) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&iss.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
	tok.Header["kid"] = issuerKID
	s, err := tok.SignedString(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// signRogue signs c with a key the issuer does not publish, under a kid
// the JWKS does not list.
func signRogue(t *testing.T, c jwt.MapClaims) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = "e2e-rogue"
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tamperPayload sets claim to value in a signed token's payload and keeps
// the original header and signature.
func tamperPayload(t *testing.T, token, claim string, value any) string {
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
	c[claim] = value
	if raw, err = json.Marshal(c); err != nil {
		t.Fatal(err)
	}
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(raw) + "." + parts[2]
}

// metricValue returns the value of the sample whose line starts with
// series (name and labels exactly as exposed), or -1 if absent.
func metricValue(metrics []byte, series string) float64 {
	for _, line := range strings.Split(string(metrics), "\n") {
		rest, ok := strings.CutPrefix(line, series+" ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err != nil {
			return -1
		}
		return v
	}
	return -1
}
