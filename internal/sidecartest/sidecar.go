package sidecartest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/fieldseal/fieldseal/internal/testproc"
)

// Config is what a test decides about a sidecar; Start fills in the rest
// (ports, the local key provider with a fresh master key and ring, a JSON
// log and a file audit trail in the test's directory).
type Config struct {
	// Upstream is the URL of the application behind the sidecar.
	Upstream string
	// FieldMap is YAML appended to the generated config: classes, routes,
	// guard settings, auth, policies, limits.
	FieldMap string
	// Env is added to the binary's environment.
	Env []string
	// API, if set, turns the encryption API listener on (on a free port).
	API *API
}

// API is what a test decides about the API listener.
type API struct {
	// AllowAnonymous is api.allow_anonymous.
	AllowAnonymous bool
}

// Sidecar is a running `fieldseal serve`.
type Sidecar struct {
	URL        string // proxy listener, http://127.0.0.1:PORT
	AdminURL   string // admin listener
	APIURL     string // API listener; "" without Config.API
	Dir        string // working directory: config, keys, log, audit file
	ConfigFile string
	AuditFile  string
	Bin        string
	Proc       *testproc.Process
}

// Start writes a config, creates keys with the binary's own commands, starts
// `fieldseal serve` and waits (at most 30 s) until /readyz answers 200.
func Start(t testing.TB, bin string, c Config) *Sidecar {
	t.Helper()
	dir := t.TempDir()
	s := &Sidecar{Dir: dir, Bin: bin, ConfigFile: filepath.Join(dir, "fieldseal.yaml"), AuditFile: filepath.Join(dir, "audit.log")}
	proxy, admin := testproc.FreeAddr(t), testproc.FreeAddr(t)
	s.URL, s.AdminURL = "http://"+proxy, "http://"+admin
	apiSection := ""
	if c.API != nil {
		addr := testproc.FreeAddr(t)
		s.APIURL = "http://" + addr
		apiSection = fmt.Sprintf("api:\n  listen: %s\n  allow_anonymous: %v\n", addr, c.API.AllowAnonymous)
	}
	cfg := fmt.Sprintf(`listen: %s
upstream: %s
admin_listen: %s
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
`, proxy, c.Upstream, admin, s.AuditFile, apiSection, c.FieldMap)
	if err := os.WriteFile(s.ConfigFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	key := s.Run(t, "keys", "master-key")
	if err := os.WriteFile(filepath.Join(dir, "master.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	s.Run(t, "keys", "init", "--config", s.ConfigFile)
	s.Proc = testproc.Start(t, testproc.Options{Dir: dir, Env: c.Env, Grace: 10 * time.Second}, bin, "serve", "--config", s.ConfigFile)
	s.Proc.WaitHTTP(t, s.AdminURL+"/readyz", 30*time.Second, nil)
	return s
}

// Run runs a one-shot fieldseal command in the sidecar's directory and
// returns its stdout; a non-zero exit fails the test with its stderr.
func (s *Sidecar) Run(t testing.TB, args ...string) []byte {
	t.Helper()
	out, errb, err := s.RunErr(args...)
	if err != nil {
		t.Fatalf("fieldseal %s: %v\n%s", strings.Join(args, " "), err, errb)
	}
	return out
}

// RunErr is Run that returns the exit error instead of failing.
func (s *Sidecar) RunErr(args ...string) (stdout, stderr []byte, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.Bin, args...)
	cmd.Dir = s.Dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.Bytes(), errb.Bytes(), err
}

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
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Resp{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return Resp{Status: resp.StatusCode, Header: resp.Header, Body: b}, err
}

// Metric returns the sum of every sample of the metric family name whose
// labels include match (nil: all), scraped from /metrics; 0 when absent.
func (s *Sidecar) Metric(t testing.TB, name string, match map[string]string) float64 {
	t.Helper()
	resp, err := Send(s.AdminURL, Req{Path: "/metrics"})
	if err != nil || resp.Status != http.StatusOK {
		t.Fatalf("scrape metrics: %d %v", resp.Status, err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(resp.Body))
	if err != nil {
		t.Fatalf("parse metrics: %v", err)
	}
	fam, ok := fams[name]
	if !ok {
		return 0
	}
	var sum float64
	for _, m := range fam.GetMetric() {
		labels := model.LabelSet{}
		for _, l := range m.GetLabel() {
			labels[model.LabelName(l.GetName())] = model.LabelValue(l.GetValue())
		}
		if !hasLabels(labels, match) {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

func hasLabels(have model.LabelSet, want map[string]string) bool {
	for k, v := range want {
		if string(have[model.LabelName(k)]) != v {
			return false
		}
	}
	return true
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
