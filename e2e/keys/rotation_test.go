package keyse2e_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/internal/motoserver"
	"github.com/fieldseal/fieldseal/internal/sidecartest"
	"github.com/fieldseal/fieldseal/internal/testproc"
)

// The tests below exercise automatic rotation (issue 12): `keys rotate
// --if-older-than` as a CronJob runs it, and keys.rotation in a running
// sidecar, on both providers.

// recorder is an upstream that keeps the e-mail of every body it receives.
type recorder struct {
	mu     sync.Mutex
	emails []string
}

func newRecorder(t *testing.T) (*recorder, string) {
	r := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var doc struct{ Email string }
		b, _ := io.ReadAll(req.Body)
		if json.Unmarshal(b, &doc) == nil && doc.Email != "" {
			r.mu.Lock()
			r.emails = append(r.emails, doc.Email)
			r.mu.Unlock()
		}
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(srv.Close)
	return r, srv.URL
}

func (r *recorder) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.emails[len(r.emails)-1]
}

const rotationFieldMap = "classes:\n  email: { mode: random }\nroutes:\n  - name: w\n    methods: [POST]\n    paths: [/c]\n    request:\n      - { path: email, class: email }\n"

// post sends one e-mail through the sidecar and returns the key version the
// upstream received it sealed under.
func post(t *testing.T, s *sidecartest.Sidecar, up *recorder, email string) uint32 {
	t.Helper()
	resp := s.Do(t, sidecartest.Req{Method: http.MethodPost, Path: "/c", JSON: `{"email":"` + email + `"}`})
	if resp.Status != http.StatusCreated {
		t.Fatalf("POST: %d %s", resp.Status, resp.Body)
	}
	return sidecartest.KeyID(t, up.last())
}

// ringVersions returns the ids and primary `keys status --json` reports.
func ringVersions(t *testing.T, cfg string) (ids []uint32, primary uint32) {
	t.Helper()
	var st struct {
		Primary  uint32
		Keys     []struct{ ID uint32 }
		Versions []struct{ ID uint32 }
	}
	if err := json.Unmarshal([]byte(mustRun(t, "", "keys", "status", "--json", "--config", cfg)), &st); err != nil {
		t.Fatal(err)
	}
	for _, k := range append(st.Keys, st.Versions...) {
		ids = append(ids, k.ID)
	}
	return ids, st.Primary
}

func TestRotateIfOlderThanLocal(t *testing.T) {
	cfg, _, flags := localSetup(t)
	trail := filepath.Join(t.TempDir(), "audit.log")
	b, _ := os.ReadFile(cfg)
	if err := os.WriteFile(cfg, append(b, []byte("audit:\n  sink: file\n  file: "+trail+"\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	keys := func(args ...string) []string { return append(append([]string{"keys"}, args...), flags...) }
	v1 := seal(t, cfg, "one@example.com")
	wantAgeRotation(t, cfg, keys)
	if pt, code, errOut := open(t, cfg, v1); pt != "one@example.com" {
		t.Fatalf("the v1 value after the rotation: exit %d %q %s", code, pt, errOut)
	}
	// One event per command: the rotation that was not due says so.
	log, _ := os.ReadFile(trail)
	var notDue, rotated int
	for _, l := range strings.Split(string(log), "\n") {
		switch {
		case !strings.Contains(l, `"outcome":"admin_rotate"`):
		case strings.Contains(l, `"reason":"not_due"`):
			notDue++
		case strings.Contains(l, `"primary":2`):
			rotated++
		}
	}
	if notDue != 1 || rotated != 1 {
		t.Errorf("admin_rotate events: %d not due, %d rotated; want 1 and 1:\n%s", notDue, rotated, log)
	}
}

func TestRotateIfOlderThanAWS(t *testing.T) {
	moto := motoserver.FromEnv(t, motoserver.EnvURL)
	r := newAWSRing(t, moto, moto)
	cfg := r.config(t, r.secret)
	keys := func(args ...string) []string { return append(append([]string{"keys"}, args...), "--config", cfg) }
	mustRun(t, "", keys("init")...)
	v1 := seal(t, cfg, "one@example.com")
	wantAgeRotation(t, cfg, keys)
	if pt, code, errOut := open(t, cfg, v1); pt != "one@example.com" {
		t.Fatalf("the v1 value after the rotation: exit %d %q %s", code, pt, errOut)
	}
}

// wantAgeRotation runs `keys rotate --if-older-than` on a new ring: not due
// (exit 0, ring unchanged), then due.
func wantAgeRotation(t *testing.T, cfg string, keys func(...string) []string) {
	t.Helper()
	code, out, errOut := fieldseal(t, "", keys("rotate", "--if-older-than", "90d")...)
	if code != 0 || !strings.HasPrefix(out, "rotated: no, primary v1 is ") || !strings.Contains(out, "not older than 90d") {
		t.Fatalf("rotate --if-older-than 90d on a new ring: exit %d\n%s%s", code, out, errOut)
	}
	if ids, primary := ringVersions(t, cfg); len(ids) != 1 || primary != 1 {
		t.Fatalf("after a rotation that was not due: versions %v primary v%d", ids, primary)
	}
	// Any primary is older than a nanosecond.
	if out := mustRun(t, "", keys("rotate", "--if-older-than", "1ns")...); !strings.HasPrefix(out, "rotated: yes, v2 is primary") {
		t.Fatalf("rotate --if-older-than 1ns:\n%s", out)
	}
	if ids, primary := ringVersions(t, cfg); len(ids) != 2 || primary != 2 {
		t.Fatalf("after a due rotation: versions %v primary v%d", ids, primary)
	}
	if code, _, errOut := fieldseal(t, "", keys("rotate", "--if-older-than", "ninety days")...); code != 2 || !strings.Contains(errOut, "whole days (90d)") {
		t.Fatalf("a bad age: exit %d %s", code, errOut)
	}
}

// TestSidecarsRotateOnUse runs two sidecars on one local ring with
// keys.rotation.max_seals 2: each seals up to the bound under v1, they find
// it due at about the same time, and the ring gains exactly one version;
// new values go out under it, and values sealed under v1 still open.
func TestSidecarsRotateOnUse(t *testing.T) {
	up, upURL := newRecorder(t)
	a := sidecartest.New(t, fieldsealBin, sidecartest.Config{Upstream: upURL, FieldMap: rotationFieldMap})
	// b shares a's ring and master key: the same keys section, absolute paths.
	shared := fmt.Sprintf("keys:\n  provider: local\n  rotation:\n    max_seals: 2\n  local:\n    ring_file: %s\n    master_key_file: %s",
		filepath.Join(a.Dir, "ring.json"), filepath.Join(a.Dir, "master.key"))
	b := sidecartest.New(t, fieldsealBin, sidecartest.Config{Upstream: upURL, FieldMap: rotationFieldMap, Keys: shared})
	cfgA, _ := os.ReadFile(a.ConfigFile)
	if err := os.WriteFile(a.ConfigFile, []byte(strings.Replace(string(cfgA), "  provider: local\n", "  provider: local\n  rotation:\n    max_seals: 2\n", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	a.Serve(t)
	b.Serve(t)

	var old []string
	for i, s := range []*sidecartest.Sidecar{a, a, b, b} {
		if v := post(t, s, up, fmt.Sprintf("user%d@example.com", i)); v != 1 {
			t.Fatalf("seal %d went out under v%d, want v1", i, v)
		}
		old = append(old, up.last())
	}
	wantOneRotation(t, a.ConfigFile, up, a, b)
	if got := a.Metric(t, "fieldseal_keys_seals_total", map[string]string{"version": "1"}); got != 2 {
		t.Fatalf("a's fieldseal_keys_seals_total{version=1} = %v, want 2", got)
	}
	// A fresh process opens them (its own config: the sidecars' audit
	// trails have one writer each).
	openCfg := filepath.Join(t.TempDir(), "open.yaml")
	if err := os.WriteFile(openCfg, []byte("upstream: http://127.0.0.1:1\n"+shared+"\n"+rotationFieldMap), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, v := range old {
		if pt, code, errOut := open(t, openCfg, v); !strings.HasSuffix(pt, "@example.com") {
			t.Fatalf("a v1 value after the rotation: exit %d %q %s", code, pt, errOut)
		}
	}
	lines := append(a.AuditLines(t), b.AuditLines(t)...)
	if n := countContaining(lines, `"outcome":"rotated","reason":"seals"`); n != 1 {
		t.Fatalf("%d rotated audit events, want 1:\n%s", n, strings.Join(lines, "\n"))
	}
}

// TestAWSSidecarRotationOnUse: an aws sidecar does not rotate the ring by
// default, it reports the rotation due; with keys.rotation.sidecar yes it
// rotates it, and two such sidecars that pass the bound together add one
// version (the Secrets Manager request token is derived from the parent
// version).
func TestAWSSidecarRotationOnUse(t *testing.T) {
	moto := motoserver.FromEnv(t, motoserver.EnvURL)
	r := newAWSRing(t, moto, moto)
	cfg := r.config(t, r.secret)
	mustRun(t, "", "keys", "init", "--config", cfg)
	up, upURL := newRecorder(t)
	keysSection := func(sidecar string) string {
		return fmt.Sprintf("keys:\n  provider: aws\n  rotation:\n    max_seals: 1\n    sidecar: %s\n  aws:\n    region: %s\n    kms_key_id: %s\n    secret_id: %s\n    endpoint: %s\n    cmk_check_interval: 0s",
			sidecar, awsRegion, r.cmk, r.secret, moto)
	}

	reporter := sidecartest.Start(t, fieldsealBin, sidecartest.Config{Upstream: upURL, FieldMap: rotationFieldMap, Keys: keysSection("auto")})
	v1 := ""
	if v := post(t, reporter, up, "one@example.com"); v != 1 {
		t.Fatalf("sealed under v%d, want v1", v)
	}
	v1 = up.last()
	testproc.Poll(t, 30*time.Second, func() error {
		if got := reporter.Metric(t, "fieldseal_keys_rotation_due", map[string]string{"reason": "seals"}); got != 1 {
			return fmt.Errorf("rotation_due{seals} = %v", got)
		}
		return nil
	})
	if ids, _ := ringVersions(t, cfg); len(ids) != 1 {
		t.Fatalf("a sidecar without keys.rotation.sidecar yes changed the ring: versions %v", ids)
	}
	if n := reporter.LogEvents(t)["keys_rotation_due"]; n != 1 {
		t.Fatalf("%d keys_rotation_due log lines, want 1", n)
	}
	reporter.AuditLines(t, `"outcome":"rotation_due","reason":"seals"`)

	rotator := sidecartest.Start(t, fieldsealBin, sidecartest.Config{Upstream: upURL, FieldMap: rotationFieldMap, Keys: keysSection("yes")})
	other := sidecartest.Start(t, fieldsealBin, sidecartest.Config{Upstream: upURL, FieldMap: rotationFieldMap, Keys: keysSection("yes")})
	post(t, rotator, up, "two@example.com")
	post(t, other, up, "two-b@example.com")
	wantOneRotation(t, cfg, up, rotator, other)
	// The reporter has not refreshed yet (15m); it opens nothing here, but
	// a fresh process opens the v1 value.
	if pt, code, errOut := open(t, cfg, v1); pt != "one@example.com" {
		t.Fatalf("the v1 value after the rotation: exit %d %q %s", code, pt, errOut)
	}
	lines := append(rotator.AuditLines(t), other.AuditLines(t)...)
	if n := countContaining(lines, `"outcome":"rotated","reason":"seals"`); n != 1 {
		t.Fatalf("%d rotated audit events, want 1", n)
	}
}

// wantOneRotation waits until sidecars a and b, which both passed
// keys.rotation.max_seals under v1 of the ring that cfg names, have each
// made one rotation attempt (their rotators check every 10s), then requires
// that the ring gained exactly one version, that exactly one of them reports
// rotating it, and that each now seals under it.
func wantOneRotation(t *testing.T, cfg string, up *recorder, a, b *sidecartest.Sidecar) {
	t.Helper()
	rotations := func(s *sidecartest.Sidecar, result string) float64 {
		return s.Metric(t, "fieldseal_keys_rotations_total", map[string]string{"result": result})
	}
	attempts := func(s *sidecartest.Sidecar) float64 { return rotations(s, "rotated") + rotations(s, "not_needed") }
	testproc.Poll(t, 40*time.Second, func() error {
		if n, m := attempts(a), attempts(b); n != 1 || m != 1 {
			return fmt.Errorf("rotation attempts: %v and %v", n, m)
		}
		return nil
	})
	if ids, primary := ringVersions(t, cfg); len(ids) != 2 || primary != 2 {
		t.Fatalf("after both sidecars passed max_seals under v1: versions %v primary v%d; want [1 2] primary v2", ids, primary)
	}
	if n := rotations(a, "rotated") + rotations(b, "rotated"); n != 1 {
		t.Fatalf("%v sidecars report that they rotated, want 1", n)
	}
	for _, s := range []*sidecartest.Sidecar{a, b} {
		if v := post(t, s, up, "after@example.com"); v != 2 {
			t.Fatalf("after the rotation a sidecar sealed under v%d, want v2", v)
		}
	}
}

func countContaining(lines []string, s string) int {
	n := 0
	for _, l := range lines {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}
