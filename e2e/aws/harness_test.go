// Package awse2e_test runs the aws key provider end to end: the real fieldseal
// binary built from this repository, a real upstream (an httptest.Server that
// records every body it receives), and a real moto_server (KMS and Secrets
// Manager) that each test starts, stops and restarts on its own loopback port.
//
//	eval "$(bash .ci/aws-emulators.sh)"   # puts moto_server on PATH
//	go test ./e2e/aws/
//
// Without moto_server on PATH the emulator tests skip with that hint; with
// CI=true they fail instead. The test that starts the sidecar with AWS
// unreachable needs no emulator and always runs.
package awse2e_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/fieldseal/fieldseal/internal/motoserver"
	"github.com/fieldseal/fieldseal/internal/testproc"
)

const region = "us-east-1"

// fieldsealBin is the binary TestMain builds once for every test.
var fieldsealBin string

func TestMain(m *testing.M) {
	// Static test credentials through the standard chain (environment), for the
	// test's own SDK clients and for every fieldseal process it starts; no shared
	// config or instance metadata from the developer's machine.
	motoserver.IsolateAWSEnv(region)
	os.Exit(testproc.RunWithBuild(m, "../../cmd/fieldseal", &fieldsealBin))
}

// ---- moto ----------------------------------------------------------------

// moto is a moto_server this test runs itself, so that it can stop it (an
// outage) and start it again on the same port.
type moto struct {
	srv *motoserver.Server
	url string
}

// startMoto runs moto_server on a free loopback port until the test ends.
func startMoto(t *testing.T) *moto {
	t.Helper()
	return startMotoOn(t, 0)
}

// startMotoOn runs moto_server on port (0 = a free one) until the test ends.
func startMotoOn(t *testing.T, port int) *moto {
	t.Helper()
	srv := motoserver.StartOn(t, port)
	// Runs before moto is stopped at the end of the test.
	t.Cleanup(sdkHTTP.CloseIdleConnections)
	return &moto{srv: srv, url: srv.URL}
}

// start starts moto again on the same port (empty) after stop.
func (m *moto) start() { m.srv.Restart() }

// stop kills moto (an outage is abrupt) and waits until it is gone.
func (m *moto) stop() {
	sdkHTTP.CloseIdleConnections()
	m.srv.Stop()
}

// sdkHTTP is the test's own AWS SDK clients' HTTP client; its idle
// connections are closed when moto stops.
var sdkHTTP = &http.Client{Transport: &http.Transport{}}

func (m *moto) kms() *kms.Client {
	return kms.New(kms.Options{Region: region, BaseEndpoint: aws.String(m.url), HTTPClient: sdkHTTP,
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")})
}

func (m *moto) secrets() *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{Region: region, BaseEndpoint: aws.String(m.url), HTTPClient: sdkHTTP,
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")})
}

var names atomic.Int64

// createCMK makes a symmetric KMS key with an alias and returns the alias and
// the key id.
func (m *moto) createCMK(t *testing.T) (alias, keyID string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := m.kms().CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("fieldseal e2e " + t.Name())})
	if err != nil {
		t.Fatalf("create CMK: %v", err)
	}
	alias = fmt.Sprintf("alias/fieldseal-e2e-%d", names.Add(1))
	if _, err := m.kms().CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: out.KeyMetadata.KeyId}); err != nil {
		t.Fatalf("create alias %s: %v", alias, err)
	}
	return alias, *out.KeyMetadata.KeyId
}

// ---- upstream -------------------------------------------------------------

// upstream is a customers API that stores what it receives, as an app behind
// fieldseal would, and records every request it sees.
type upstream struct {
	srv *httptest.Server

	mu       sync.Mutex
	nextID   int
	store    map[string][]byte // id -> stored object as JSON
	bodies   [][]byte          // every request body, in arrival order
	requests []string          // "METHOD path" of every request
}

func startUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{store: map[string][]byte{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /customers", func(w http.ResponseWriter, r *http.Request) {
		body := u.record(r)
		var obj map[string]any
		if err := json.Unmarshal(body, &obj); err != nil {
			http.Error(w, `{"error":"bad json"}`, http.StatusBadRequest)
			return
		}
		u.mu.Lock()
		u.nextID++
		id := strconv.Itoa(u.nextID)
		obj["id"] = id
		stored, _ := json.Marshal(obj)
		u.store[id] = stored
		u.mu.Unlock()
		writeJSONBody(w, http.StatusCreated, stored)
	})
	mux.HandleFunc("GET /customers/{id}", func(w http.ResponseWriter, r *http.Request) {
		u.record(r)
		u.mu.Lock()
		stored, ok := u.store[r.PathValue("id")]
		u.mu.Unlock()
		if !ok {
			writeJSONBody(w, http.StatusNotFound, []byte(`{}`))
			return
		}
		writeJSONBody(w, http.StatusOK, stored)
	})
	mux.HandleFunc("GET /customers", func(w http.ResponseWriter, r *http.Request) {
		u.record(r)
		u.mu.Lock()
		list := make([]json.RawMessage, 0, len(u.store))
		for i := 1; i <= u.nextID; i++ {
			if s, ok := u.store[strconv.Itoa(i)]; ok {
				list = append(list, s)
			}
		}
		u.mu.Unlock()
		b, _ := json.Marshal(list)
		writeJSONBody(w, http.StatusOK, b)
	})
	mux.HandleFunc("GET /public/ping", func(w http.ResponseWriter, r *http.Request) {
		u.record(r)
		writeJSONBody(w, http.StatusOK, []byte(`{"pong":true}`))
	})
	u.srv = httptest.NewServer(mux)
	t.Cleanup(u.srv.Close)
	return u
}

func writeJSONBody(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (u *upstream) record(r *http.Request) []byte {
	body, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.bodies = append(u.bodies, body)
	u.requests = append(u.requests, r.Method+" "+r.URL.Path)
	u.mu.Unlock()
	return body
}

// stored returns the object the app holds under id.
func (u *upstream) stored(t *testing.T, id string) map[string]any {
	t.Helper()
	u.mu.Lock()
	b, ok := u.store[id]
	u.mu.Unlock()
	if !ok {
		t.Fatalf("the app holds no customer %s", id)
	}
	var obj map[string]any
	if err := json.Unmarshal(b, &obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

// seen returns copies of the request lines and bodies the app received.
func (u *upstream) seen() (requests []string, bodies [][]byte) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.requests...), append([][]byte(nil), u.bodies...)
}

// ---- fieldseal --------------------------------------------------------------

// settings are what a test varies in the sidecar's config.
type settings struct {
	upstream         string
	endpoint         string
	secret           string
	cmk              string        // kms_key_id, for keys init and rotate
	refreshInterval  time.Duration // keys.refresh_interval
	cmkCheckInterval time.Duration // keys.aws.cmk_check_interval (0 = off)
	callTimeout      time.Duration // keys.aws.call_timeout
}

// sidecar is one `fieldseal serve` process on free ports.
type sidecar struct {
	config string
	proxy  string
	admin  string
	log    string   // its stdout and stderr, once started
	env    []string // extra environment for serve ("K=V")
}

// writeConfig writes a config for the aws provider: the customers routes of
// the quick start plus nothing else, so /public/* passes through.
func writeConfig(t *testing.T, s settings) *sidecar {
	t.Helper()
	proxyPort, adminPort := testproc.FreePort(t), testproc.FreePort(t)
	if s.callTimeout == 0 {
		s.callTimeout = 2 * time.Second
	}
	cfg := fmt.Sprintf(`listen: 127.0.0.1:%d
upstream: %s
admin_listen: 127.0.0.1:%d
keys:
  provider: aws
  refresh_interval: %s
  aws:
    region: %s
    kms_key_id: %q
    secret_id: %q
    endpoint: %q
    call_timeout: %s
    max_attempts: 1
    cmk_check_interval: %s
log: { level: info, format: json }
classes:
  email:  { mode: random }
  phone:  { mode: random }
  street: { mode: random }
routes:
  - name: customers-write
    methods: [POST]
    paths: [/customers]
    request:
      - { path: email, class: email }
      - { path: phone, class: phone }
      - { path: address.street, class: street }
    response:
      - { path: email, class: email }
      - { path: phone, class: phone }
      - { path: address.street, class: street }
  - name: customers-list
    methods: [GET]
    paths: [/customers]
    response:
      - { path: "#.email", class: email }
      - { path: "#.phone", class: phone }
      - { path: "#.address.street", class: street }
  - name: customers-get
    methods: [GET]
    paths: ["/customers/{id}"]
    response:
      - { path: email, class: email }
      - { path: phone, class: phone }
      - { path: address.street, class: street }
`, proxyPort, s.upstream, adminPort, s.refreshInterval, region, s.cmk, s.secret, s.endpoint, s.callTimeout, s.cmkCheckInterval)
	path := filepath.Join(t.TempDir(), "fieldseal.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return &sidecar{
		config: path,
		proxy:  fmt.Sprintf("http://127.0.0.1:%d", proxyPort),
		admin:  fmt.Sprintf("http://127.0.0.1:%d", adminPort),
	}
}

// fieldseal runs one fieldseal command to completion and returns its stdout.
func fieldseal(t *testing.T, args ...string) []byte {
	t.Helper()
	return fieldsealEnv(t, nil, args...)
}

// fieldsealEnv is fieldseal with extra environment variables ("K=V").
func fieldsealEnv(t *testing.T, env []string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, fieldsealBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("fieldseal %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// serve starts `fieldseal serve` and returns once its admin listener answers
// /healthz (not /readyz: a test may start it without reachable keys). The
// process is interrupted, and killed if it does not stop, when the test ends.
func (s *sidecar) serve(t *testing.T) {
	t.Helper()
	s.start(t).WaitHTTP(t, s.admin+"/healthz", 30*time.Second, nil)
}

// serveAndCatchStart starts `fieldseal serve` and returns as soon as its proxy
// listener accepts a connection: serve listens before its first key load, so
// requests sent now race that load.
func (s *sidecar) serveAndCatchStart(t *testing.T) {
	t.Helper()
	p := s.start(t)
	addr := strings.TrimPrefix(s.proxy, "http://")
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.Done():
			t.Fatalf("fieldseal serve exited during start-up:\n%s", p.Output())
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("fieldseal serve: %s did not accept connections within 30s", addr)
}

// start starts the process; it is interrupted, and killed if it does not
// stop, when the test ends.
func (s *sidecar) start(t *testing.T) *testproc.Process {
	t.Helper()
	s.log = filepath.Join(t.TempDir(), "fieldseal.log")
	p := testproc.Start(t, testproc.Options{Log: s.log, Env: s.env, Grace: 15 * time.Second},
		fieldsealBin, "serve", "--config", s.config)
	// Runs before the process is stopped at the end of the test.
	t.Cleanup(client.CloseIdleConnections)
	return p
}

// readyReport is the part of /readyz the tests read.
type readyReport struct {
	Ready bool `json:"ready"`
	Keys  struct {
		Loaded              bool   `json:"loaded"`
		Revision            string `json:"revision"`
		Primary             uint32 `json:"primary"`
		LastError           string `json:"last_error"`
		ConsecutiveFailures int    `json:"consecutive_failures"`
	} `json:"keys"`
}

func (s *sidecar) ready(t *testing.T) (int, readyReport, []byte) {
	t.Helper()
	status, raw := get(t, s.admin+"/readyz")
	var rep readyReport
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatalf("/readyz is not JSON (%v): %s", err, raw)
	}
	return status, rep, raw
}

// waitReady polls /readyz until cond holds for its report, or fails after 30s.
func (s *sidecar) waitReady(t *testing.T, what string, cond func(status int, rep readyReport) bool) readyReport {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, rep, raw := s.ready(t)
		if cond(status, rep) {
			return rep
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz never reported %s within 30s; last: %d %s", what, status, raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// metrics scrapes the admin /metrics endpoint.
func (s *sidecar) metrics(t *testing.T) scrape {
	t.Helper()
	status, raw := get(t, s.admin+"/metrics")
	if status != http.StatusOK {
		t.Fatalf("/metrics: status %d", status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return mfs
}

// scrape is one parsed /metrics answer.
type scrape map[string]*dto.MetricFamily

// sum adds the values of every series of a counter or gauge whose labels
// include all of match.
func (s scrape) sum(name string, match map[string]string) float64 {
	mf, ok := s[name]
	if !ok {
		return 0
	}
	total := 0.0
series:
	for _, m := range mf.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range match {
			if labels[k] != v {
				continue series
			}
		}
		switch {
		case m.Counter != nil:
			total += m.GetCounter().GetValue()
		case m.Gauge != nil:
			total += m.GetGauge().GetValue()
		}
	}
	return total
}

// calls is fieldseal_keys_provider_calls_total for one operation ("" = all).
func (s scrape) calls(operation string) float64 {
	match := map[string]string{}
	if operation != "" {
		match["operation"] = operation
	}
	return s.sum("fieldseal_keys_provider_calls_total", match)
}

// refreshLatency returns the sum and count of the key ring loads observed.
func (s scrape) refreshLatency() (sum float64, count uint64) {
	mf, ok := s["fieldseal_keys_refresh_duration_seconds"]
	if !ok || len(mf.GetMetric()) == 0 {
		return 0, 0
	}
	h := mf.GetMetric()[0].GetHistogram()
	return h.GetSampleSum(), h.GetSampleCount()
}

func logRefreshLatency(t *testing.T, s scrape) {
	t.Helper()
	sum, n := s.refreshLatency()
	if n > 0 {
		t.Logf("key ring loads: %d, mean load latency %.1f ms (fieldseal_keys_refresh_duration_seconds sum %.4fs)", n, 1000*sum/float64(n), sum)
	}
}

// ---- HTTP ------------------------------------------------------------------

var client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	status, raw, err := do(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return status, raw
}

func post(t *testing.T, url string, body any) (int, []byte) {
	t.Helper()
	status, raw, err := do(http.MethodPost, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return status, raw
}

// do is safe to call from any goroutine: it reports errors instead of failing.
func do(method, url string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}

// customer is a document with the three protected fields; n makes its values
// unique so that the test can find them (or their absence) anywhere.
func customer(n string) map[string]any {
	return map[string]any{
		"name":    "Customer " + n,
		"email":   "c" + n + "@example.com",
		"phone":   "+82-10-" + n,
		"address": map[string]any{"street": n + " Sejong-daero", "city": "Seoul"},
		"plan":    "gold",
	}
}

// plaintextsOf lists a customer's protected values.
func plaintextsOf(c map[string]any) []string {
	return []string{c["email"].(string), c["phone"].(string), c["address"].(map[string]any)["street"].(string)}
}

// checkOpened reports how a response differs from the customer it should show.
func checkOpened(raw []byte, want map[string]any) error {
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		return fmt.Errorf("not JSON: %s", raw)
	}
	addr, _ := got["address"].(map[string]any)
	if got["email"] != want["email"] || got["phone"] != want["phone"] || addr == nil ||
		addr["street"] != want["address"].(map[string]any)["street"] || got["plan"] != want["plan"] {
		return fmt.Errorf("response %s does not show %v", raw, want)
	}
	return nil
}

// createThrough POSTs c through the proxy and returns the id the app gave it.
func createThrough(t *testing.T, s *sidecar, c map[string]any) string {
	t.Helper()
	status, raw := post(t, s.proxy+"/customers", c)
	if status != http.StatusCreated {
		t.Fatalf("POST /customers through fieldseal: status %d: %s", status, raw)
	}
	if err := checkOpened(raw, c); err != nil {
		t.Fatalf("POST /customers through fieldseal: %v", err)
	}
	var obj struct{ ID string }
	_ = json.Unmarshal(raw, &obj)
	return obj.ID
}

// keyID reads the key version from a sealed value's header (crypto/FORMAT.md):
// "fs1:" + base64url_nopad(alg, json_type, key_id uint32 big-endian, body).
func keyID(t *testing.T, v any) uint32 {
	t.Helper()
	s, _ := v.(string)
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(s, "fs1:"))
	if !strings.HasPrefix(s, "fs1:") || err != nil || len(raw) < 6 {
		t.Fatalf("not a sealed value: %q (%v)", s, err)
	}
	return binary.BigEndian.Uint32(raw[2:6])
}

// storedKeyIDs returns the key ids of a stored customer's three sealed fields.
func storedKeyIDs(t *testing.T, u *upstream, id string) []uint32 {
	t.Helper()
	obj := u.stored(t, id)
	addr, _ := obj["address"].(map[string]any)
	return []uint32{keyID(t, obj["email"]), keyID(t, obj["phone"]), keyID(t, addr["street"])}
}

// decodeID reads the "id" the app gave a created customer.
func decodeID(raw []byte) (string, error) {
	var obj struct{ ID string }
	if err := json.Unmarshal(raw, &obj); err != nil {
		return "", err
	}
	if obj.ID == "" {
		return "", fmt.Errorf("no id in %s", raw)
	}
	return obj.ID, nil
}

// fieldsealFails runs a fieldseal command that must fail and returns stderr.
func fieldsealFails(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, fieldsealBin, args...)
	cmd.Stderr = &stderr
	if out, err := cmd.Output(); err == nil {
		t.Fatalf("fieldseal %s succeeded, want an error:\n%s", strings.Join(args, " "), out)
	}
	return stderr.String()
}

// keysStatus is the part of `keys ... --json` output the tests read.
type keysStatus struct {
	Primary  uint32 `json:"primary"`
	Rotated  bool   `json:"rotated"`
	Versions []struct {
		ID       uint32 `json:"id"`
		CMKKeyID string `json:"cmk_key_id"`
	} `json:"versions"`
	Rewrapped []uint32 `json:"rewrapped"`
}

func keysJSON(t *testing.T, args ...string) keysStatus {
	t.Helper()
	out := fieldseal(t, append(args, "--json")...)
	var st keysStatus
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("fieldseal %s --json: %v\n%s", strings.Join(args, " "), err, out)
	}
	return st
}

func secretName() string {
	return fmt.Sprintf("fieldseal-e2e/ring-%d-%d", time.Now().UnixNano(), names.Add(1))
}

// logEvents counts the sidecar's log lines per "event" field so far.
func (s *sidecar) logEvents(t *testing.T) map[string]int {
	t.Helper()
	b, err := os.ReadFile(s.log)
	if err != nil {
		t.Fatal(err)
	}
	events := map[string]int{}
	for _, line := range bytes.Split(b, []byte("\n")) {
		var ev struct{ Event string }
		if json.Unmarshal(line, &ev) == nil && ev.Event != "" {
			events[ev.Event]++
		}
	}
	return events
}
