package sidecartest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/internal/testproc"
)

// Config is what a test decides about a sidecar; New fills in the rest
// (ports, a JSON log and a file audit trail in the test's directory, and
// unless Keys says otherwise the local key provider with a fresh master key
// and ring).
type Config struct {
	// Upstream is the URL of the application behind the sidecar.
	Upstream string
	// FieldMap is YAML appended to the generated config: classes, routes,
	// guard settings, auth, policies, limits.
	FieldMap string
	// Keys is the config's whole keys section ("keys:\n  provider: aws
	// ..."). Empty: the local provider, whose master key and ring New
	// creates with the binary's own commands.
	Keys string
	// Env is added to the environment of `fieldseal serve`.
	Env []string
	// Ready is the admin path Serve waits on until it answers 200: empty
	// is /readyz (keys loaded); /healthz is for a sidecar whose keys may be
	// unreachable.
	Ready string
	// API, if set, turns the encryption API listener on (on a free port).
	API *API
}

// API is what a test decides about the API listener.
type API struct {
	// AllowAnonymous is api.allow_anonymous.
	AllowAnonymous bool
}

// Sidecar is a `fieldseal serve` and its files.
type Sidecar struct {
	URL        string // proxy listener, http://127.0.0.1:PORT
	AdminURL   string // admin listener
	APIURL     string // API listener; "" without Config.API
	Dir        string // working directory: config, keys, log, audit file
	ConfigFile string
	AuditFile  string
	LogFile    string // stdout and stderr of every serve run, appended
	Bin        string
	Proc       *testproc.Process // the latest serve run; nil before Serve

	cfg Config
}

// localKeys is the keys section of a sidecar on the local provider.
const localKeys = `keys:
  provider: local
  local:
    ring_file: ring.json
    master_key_file: master.key`

// RunWithBinary builds cmd/fieldseal once for a test binary, stores its
// path in *bin and runs the tests (testproc.RunWithBuild); its result is
// the exit code for os.Exit:
//
//	func TestMain(m *testing.M) { os.Exit(sidecartest.RunWithBinary(m, &bin)) }
func RunWithBinary(m *testing.M, bin *string) int {
	return testproc.RunWithBuild(m, "github.com/fieldseal/fieldseal/cmd/fieldseal", bin)
}

// Start is New and Serve: it returns a sidecar that answers Config.Ready.
func Start(t testing.TB, bin string, c Config) *Sidecar {
	t.Helper()
	s := New(t, bin, c)
	s.Serve(t)
	return s
}

// New writes a config in a fresh directory and, for the local provider,
// creates the master key and ring with the binary's own commands; it does
// not start the sidecar, so a test can run key commands on the config
// first.
func New(t testing.TB, bin string, c Config) *Sidecar {
	t.Helper()
	dir := t.TempDir()
	s := &Sidecar{Dir: dir, Bin: bin, cfg: c, ConfigFile: filepath.Join(dir, "fieldseal.yaml"),
		AuditFile: filepath.Join(dir, "audit.log"), LogFile: filepath.Join(dir, "fieldseal.log")}
	proxy, admin := testproc.FreeAddr(t), testproc.FreeAddr(t)
	s.URL, s.AdminURL = "http://"+proxy, "http://"+admin
	keys := c.Keys
	if keys == "" {
		keys = localKeys
	}
	apiSection := ""
	if c.API != nil {
		addr := testproc.FreeAddr(t)
		s.APIURL = "http://" + addr
		apiSection = fmt.Sprintf("api:\n  listen: %s\n  allow_anonymous: %v\n", addr, c.API.AllowAnonymous)
	}
	cfg := fmt.Sprintf(`listen: %s
upstream: %s
admin_listen: %s
%s
log:
  level: info
  format: json
audit:
  sink: file
  file: %s
%s
%s
`, proxy, c.Upstream, admin, keys, s.AuditFile, apiSection, c.FieldMap)
	if err := os.WriteFile(s.ConfigFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if c.Keys == "" {
		key := s.Run(t, "keys", "master-key")
		if err := os.WriteFile(filepath.Join(dir, "master.key"), key, 0o600); err != nil {
			t.Fatal(err)
		}
		s.Run(t, "keys", "init", "--config", s.ConfigFile)
	}
	return s
}

// Serve starts `fieldseal serve` (again, after Stop) and waits (at most
// 30 s) until Config.Ready answers 200. The process is stopped when the
// test ends: SIGTERM, then SIGKILL after 15 s.
func (s *Sidecar) Serve(t testing.TB) {
	t.Helper()
	p := s.Launch(t)
	ready := s.cfg.Ready
	if ready == "" {
		ready = "/readyz"
	}
	p.WaitHTTP(t, s.AdminURL+ready, 30*time.Second, nil)
}

// Launch starts `fieldseal serve` and returns at once, for a test that
// races the sidecar's start-up.
func (s *Sidecar) Launch(t testing.TB) *testproc.Process {
	t.Helper()
	s.Proc = testproc.Start(t, testproc.Options{Dir: s.Dir, Env: s.cfg.Env, Log: s.LogFile, Grace: 15 * time.Second},
		s.Bin, "serve", "--config", s.ConfigFile)
	t.Cleanup(client.CloseIdleConnections) // runs before the process is stopped
	return s.Proc
}

// Stop sends SIGTERM and fails the test unless serve exits cleanly within
// 20 s: shutdown drains and closes the audit trail.
func (s *Sidecar) Stop(t testing.TB) {
	t.Helper()
	if err := s.Proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-s.Proc.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("fieldseal serve did not stop within 20s of SIGTERM")
	}
	if err := s.Proc.Err(); err != nil {
		t.Fatalf("fieldseal serve exited with %v after SIGTERM", err)
	}
}

// LogEvents counts the lines of the sidecar's log so far by their "event"
// field.
func (s *Sidecar) LogEvents(t testing.TB) map[string]int {
	t.Helper()
	b, err := os.ReadFile(s.LogFile)
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

// Run runs a one-shot fieldseal command in the sidecar's directory and
// returns its stdout; a non-zero exit fails the test with its stderr.
func (s *Sidecar) Run(t testing.TB, args ...string) []byte {
	t.Helper()
	return testproc.MustExec(t, testproc.Cmd{Dir: s.Dir}, s.Bin, args...)
}

// Exec is Run that returns the exit status and both outputs instead of
// failing on a non-zero exit.
func (s *Sidecar) Exec(t testing.TB, args ...string) testproc.Result {
	t.Helper()
	return testproc.Exec(t, testproc.Cmd{Dir: s.Dir}, s.Bin, args...)
}

// client sends every request of Send; it keeps enough idle connections for
// the load tests' workers. Launch closes them before the sidecar stops.
var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// Req is one request to send through the sidecar.
type Req struct {
	Method string
	// Path is sent exactly as given (raw, not re-escaped), query included.
	Path   string
	Header map[string]string
	// JSON is the body, sent as application/json unless Header sets a
	// Content-Type; Body is sent as it is.
	JSON string
	Body []byte
}

// Resp is a response as the client saw it.
type Resp struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends r to the sidecar (bounded by 10 s) and returns the response;
// a transport failure fails the test.
func (s *Sidecar) Do(t testing.TB, r Req) Resp {
	t.Helper()
	resp, err := Send(s.URL, r)
	if err != nil {
		t.Fatalf("%s %s: %v", r.Method, r.Path, err)
	}
	return resp
}

// DoWant is Do that fails the test unless the answer has the status want,
// naming the request and the body that came back.
func (s *Sidecar) DoWant(t testing.TB, want int, r Req) Resp {
	t.Helper()
	resp := s.Do(t, r)
	if resp.Status != want {
		method := r.Method
		if method == "" {
			method = http.MethodGet
		}
		t.Fatalf("%s %s: %d %.300s, want %d", method, r.Path, resp.Status, resp.Body, want)
	}
	return resp
}

// CallAPI posts body to the API operation op ("seal", "open", "lookup")
// with "Authorization: Bearer token" unless token is "".
func (s *Sidecar) CallAPI(t testing.TB, op, token, body string) Resp {
	t.Helper()
	if s.APIURL == "" {
		t.Fatal("the sidecar has no API listener (Config.API is nil)")
	}
	r := Req{Method: http.MethodPost, Path: "/v1/" + op, JSON: body, Header: map[string]string{}}
	if token != "" {
		r.Header["Authorization"] = "Bearer " + token
	}
	resp, err := Send(s.APIURL, r)
	if err != nil {
		t.Fatalf("POST /v1/%s: %v", op, err)
	}
	return resp
}

// Send sends r to base (a URL with no path) without a test.
func Send(base string, r Req) (Resp, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	body := r.Body
	if r.JSON != "" {
		body = []byte(r.JSON)
	}
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, method, base+"/", bytes.NewReader(body))
	if err != nil {
		return Resp{}, err
	}
	if body == nil {
		req.Body, req.ContentLength = nil, 0
	}
	path, query, _ := strings.Cut(r.Path, "?")
	req.URL.Opaque = "//" + req.URL.Host + path // sent byte for byte
	req.URL.RawQuery = query
	if r.JSON != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.Header {
		if strings.EqualFold(k, "Host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return Resp{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return Resp{Status: resp.StatusCode, Header: resp.Header, Body: b}, err
}

// Get sends a GET of url (a full URL, bounded by 10 s) without a test.
func Get(url string) (Resp, error) { return SendJSON(http.MethodGet, url, nil) }

// SendJSON sends body (nil: none) encoded as JSON to url (a full URL) and
// returns the response without a test, so it may run on any goroutine.
func SendJSON(method, url string, body any) (Resp, error) {
	u, err := neturl.Parse(url)
	if err != nil {
		return Resp{}, err
	}
	r := Req{Method: method, Path: u.RequestURI()}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return Resp{}, err
		}
		r.JSON = string(b)
	}
	return Send(u.Scheme+"://"+u.Host, r)
}

// Metric returns the sum of every sample of the metric family name whose
// labels include match (nil: all), scraped from /metrics; see Families.Sum.
func (s *Sidecar) Metric(t testing.TB, name string, match map[string]string) float64 {
	t.Helper()
	return Scrape(t, s.AdminURL+"/metrics").Sum(name, match)
}

// AuditLines returns the audit trail's lines, waiting (at most 10 s) until
// one contains each of want.
func (s *Sidecar) AuditLines(t testing.TB, want ...string) []string {
	t.Helper()
	b := testproc.WaitFileContains(t, s.AuditFile, 10*time.Second, want...)
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// ErrorCode returns the "code" of fieldseal's JSON error body, or "".
func ErrorCode(body []byte) string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	return e.Error.Code
}
