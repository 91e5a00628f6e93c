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
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/fieldseal/fieldseal/internal/motoserver"
	"github.com/fieldseal/fieldseal/internal/sidecartest"
	"github.com/fieldseal/fieldseal/internal/testproc"
)

const region = "us-east-1"

// fieldsealBin is the binary TestMain builds once for every test.
var fieldsealBin string

func TestMain(m *testing.M) {
	// Static test credentials through the standard chain (environment), for the
	// test's own SDK clients and for every fieldseal process it starts; no shared
	// config or instance metadata from the developer's machine.
	os.Exit(sidecartest.RunWithAWSEnv(m, &fieldsealBin, region))
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

func (m *moto) kms() *kms.Client { return motoserver.KMS(m.url, region, sdkHTTP) }

func (m *moto) secrets() *secretsmanager.Client {
	return motoserver.SecretsManager(m.url, region, sdkHTTP)
}

// secretString is the current value of the secret id (a key ring).
func (m *moto) secretString(t *testing.T, id string) string {
	t.Helper()
	return motoserver.SecretString(t, m.secrets(), id)
}

var names atomic.Int64

// createCMK makes a symmetric KMS key with an alias and returns the alias and
// the key id.
func (m *moto) createCMK(t *testing.T) (alias, keyID string) {
	t.Helper()
	k := m.kms()
	keyID, _ = motoserver.CreateCMK(t, k)
	return motoserver.CreateAlias(t, k, keyID), keyID
}

// startStack starts what most tests need: moto, the upstream and a CMK
// (its alias and key id).
func startStack(t *testing.T) (m *moto, up *sidecartest.Store, alias, cmkID string) {
	t.Helper()
	m = startMoto(t)
	up = startUpstream(t)
	alias, cmkID = m.createCMK(t)
	return m, up, alias, cmkID
}

// ---- upstream -------------------------------------------------------------

// startUpstream starts the customers API behind the sidecar: a recording
// store (sidecartest.Store) that keeps what it receives, as an app would.
func startUpstream(t *testing.T) *sidecartest.Store {
	t.Helper()
	return sidecartest.NewStore(t, sidecartest.GoJSON)
}

// stored returns the object the app holds under id.
func stored(t *testing.T, u *sidecartest.Store, id string) map[string]any {
	t.Helper()
	obj := u.Record(id)
	if obj == nil {
		t.Fatalf("the app holds no customer %s", id)
	}
	return obj
}

// seen returns the request lines ("METHOD path") and bodies the app received.
func seen(u *sidecartest.Store) (requests []string, bodies [][]byte) {
	for _, r := range u.Received() {
		requests = append(requests, r.Method+" "+r.RawPath)
		bodies = append(bodies, r.Body)
	}
	return requests, bodies
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
	env              []string      // extra environment for serve ("K=V")
}

// sidecar is one `fieldseal serve` on the aws provider.
type sidecar struct{ *sidecartest.Sidecar }

// writeConfig writes a config for the aws provider with the quick start's
// customers routes (sidecartest.AddressCustomers), so /public/* passes
// through. The sidecar is not started: tests create its keys first.
func writeConfig(t *testing.T, s settings) *sidecar {
	t.Helper()
	if s.callTimeout == 0 {
		s.callTimeout = 2 * time.Second
	}
	keys := fmt.Sprintf(`keys:
  provider: aws
  refresh_interval: %s
  aws:
    region: %s
    kms_key_id: %q
    secret_id: %q
    endpoint: %q
    call_timeout: %s
    max_attempts: 1
    cmk_check_interval: %s`, s.refreshInterval, region, s.cmk, s.secret, s.endpoint, s.callTimeout, s.cmkCheckInterval)
	// /healthz, not /readyz: a test may start it without reachable keys.
	return &sidecar{sidecartest.New(t, fieldsealBin, sidecartest.Config{
		Upstream: s.upstream, FieldMap: sidecartest.AddressCustomers, Keys: keys, Env: s.env, Ready: "/healthz",
	})}
}

// fieldseal runs one fieldseal command to completion and returns its stdout.
func fieldseal(t *testing.T, args ...string) []byte {
	t.Helper()
	return testproc.MustExec(t, testproc.Cmd{}, fieldsealBin, args...)
}

// fieldsealEnv is fieldseal with extra environment variables ("K=V").
func fieldsealEnv(t *testing.T, env []string, args ...string) []byte {
	t.Helper()
	return testproc.MustExec(t, testproc.Cmd{Env: env}, fieldsealBin, args...)
}

// fieldsealFails runs a fieldseal command that must fail and returns stderr.
func fieldsealFails(t *testing.T, args ...string) string {
	t.Helper()
	r := testproc.Exec(t, testproc.Cmd{}, fieldsealBin, args...)
	if r.Code == 0 {
		t.Fatalf("fieldseal %s succeeded, want an error:\n%s", strings.Join(args, " "), r.Stdout)
	}
	return string(r.Stderr)
}

// serveReady starts `fieldseal serve` and waits until /readyz answers 200.
func (s *sidecar) serveReady(t *testing.T) {
	t.Helper()
	s.Serve(t)
	s.waitReady(t, "ready", func(status int, rep readyReport) bool { return status == http.StatusOK })
}

// serveAndCatchStart starts `fieldseal serve` and returns as soon as its proxy
// listener accepts a connection: serve listens before its first key load, so
// requests sent now race that load.
func (s *sidecar) serveAndCatchStart(t *testing.T) {
	t.Helper()
	addr := strings.TrimPrefix(s.URL, "http://")
	s.Launch(t).WaitUntil(t, 30*time.Second, func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err
	})
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
	status, raw := get(t, s.AdminURL+"/readyz")
	var rep readyReport
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatalf("/readyz is not JSON (%v): %s", err, raw)
	}
	return status, rep, raw
}

// waitReady polls /readyz until cond holds for its report, or fails after 30s.
func (s *sidecar) waitReady(t *testing.T, what string, cond func(status int, rep readyReport) bool) readyReport {
	t.Helper()
	var rep readyReport
	testproc.Poll(t, 30*time.Second, func() error {
		status, r, raw := s.ready(t)
		if rep = r; !cond(status, r) {
			return fmt.Errorf("/readyz does not report %s: %d %s", what, status, raw)
		}
		return nil
	})
	return rep
}

// metrics scrapes the admin /metrics endpoint.
func (s *sidecar) metrics(t *testing.T) sidecartest.Families {
	t.Helper()
	return sidecartest.Scrape(t, s.AdminURL+"/metrics")
}

// calls is fieldseal_keys_provider_calls_total for one operation ("" = all).
func calls(f sidecartest.Families, operation string) float64 {
	match := map[string]string{}
	if operation != "" {
		match["operation"] = operation
	}
	return f.Sum("fieldseal_keys_provider_calls_total", match)
}

func logRefreshLatency(t *testing.T, f sidecartest.Families) {
	t.Helper()
	const name = "fieldseal_keys_refresh_duration_seconds"
	if n, sum := f.Sum(name, nil), f.HistogramSum(name, nil); n > 0 {
		t.Logf("key ring loads: %v, mean load latency %.1f ms (%s sum %.4fs)", n, 1000*sum/n, name, sum)
	}
}

// ---- HTTP ------------------------------------------------------------------

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
	resp, err := sidecartest.SendJSON(method, url, body)
	return resp.Status, resp.Body, err
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
	status, raw := post(t, s.URL+"/customers", c)
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

// keyID reads the key version from a sealed value (sidecartest.KeyID).
func keyID(t *testing.T, v any) uint32 {
	t.Helper()
	s, _ := v.(string)
	return sidecartest.KeyID(t, s)
}

// storedKeyIDs returns the key ids of a stored customer's three sealed fields.
func storedKeyIDs(t *testing.T, u *sidecartest.Store, id string) []uint32 {
	t.Helper()
	obj := stored(t, u, id)
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
