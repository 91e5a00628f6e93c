package awse2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/fieldseal/fieldseal/internal/motoserver"
	"github.com/fieldseal/fieldseal/internal/testproc"
)

// TestSidecarSealsAndRotatesOnMoto covers keys init, serve, rotation under
// load and a CMK rotation followed by `keys rotate --if-cmk-rotated`, on one
// running sidecar: nothing restarts between the steps.
func TestSidecarSealsAndRotatesOnMoto(t *testing.T) {
	m, up, alias, cmkID := startStack(t)
	secret := secretName()
	// A short refresh interval so rotations reach the sidecar within the test,
	// and a short CMK check interval so the CMK check runs during it too.
	s := writeConfig(t, settings{upstream: up.URL(), endpoint: m.url, secret: secret, cmk: "",
		refreshInterval: time.Second, cmkCheckInterval: time.Second})

	initArgs := []string{"keys", "init", "--config", s.ConfigFile, "--provider", "aws", "--kms-key-id", alias, "--secret-id", secret}
	st := keysJSON(t, initArgs...)
	t.Run("keys init creates version 1 wrapped under the CMK", func(t *testing.T) {
		if st.Primary != 1 || len(st.Versions) != 1 || !strings.Contains(st.Versions[0].CMKKeyID, cmkID) {
			t.Errorf("keys init = %+v, want primary 1 wrapped under %s", st, cmkID)
		}
	})
	t.Run("a second keys init is refused", func(t *testing.T) {
		msg := fieldsealFails(t, initArgs...)
		if !strings.Contains(msg, secret) {
			t.Errorf("error does not name the secret: %s", msg)
		}
	})

	t.Run("keys status finds the ring through the SDK's endpoint variables when the config names none", func(t *testing.T) {
		noEndpoint := writeConfig(t, settings{upstream: up.URL(), secret: secret, refreshInterval: time.Second})
		for _, env := range [][]string{
			{"AWS_ENDPOINT_URL=" + m.url},
			{"AWS_ENDPOINT_URL_SECRETS_MANAGER=" + m.url, "AWS_ENDPOINT_URL_KMS=" + m.url},
		} {
			out := fieldsealEnv(t, env, "keys", "status", "--json", "--config", noEndpoint.ConfigFile)
			var st keysStatus
			if err := json.Unmarshal(out, &st); err != nil || st.Primary != 1 {
				t.Errorf("keys status with %v: %v: %s", env, err, out)
			}
		}
	})

	s.Serve(t)
	s.waitReady(t, "ready with primary 1", func(status int, rep readyReport) bool { return status == 200 && rep.Keys.Primary == 1 })

	alice := customer("alice")
	aliceID := createThrough(t, s, alice)
	t.Run("POST through the proxy stores only sealed values at the upstream", func(t *testing.T) {
		_, bodies := seen(up)
		for _, b := range bodies {
			for _, p := range plaintextsOf(alice) {
				if bytes.Contains(b, []byte(p)) {
					t.Errorf("the upstream received plaintext %q: %s", p, b)
				}
			}
		}
		if ids := storedKeyIDs(t, up, aliceID); ids[0] != 1 || ids[1] != 1 || ids[2] != 1 {
			t.Errorf("stored values carry key ids %v, want all 1", ids)
		}
		if obj := stored(t, up, aliceID); obj["plan"] != "gold" || obj["name"] != "Customer alice" {
			t.Errorf("unprotected fields changed at the upstream: %v", obj)
		}
	})
	t.Run("GET through the proxy opens them", func(t *testing.T) {
		status, raw := get(t, s.URL+"/customers/"+aliceID)
		if status != http.StatusOK {
			t.Fatalf("status %d: %s", status, raw)
		}
		if err := checkOpened(raw, alice); err != nil {
			t.Error(err)
		}
		status, raw = get(t, s.URL+"/customers")
		if status != http.StatusOK || !bytes.Contains(raw, []byte(`"c`+"alice"+`@example.com"`)) || bytes.Contains(raw, []byte(`"fs1:`)) {
			t.Errorf("list through the proxy: status %d: %s", status, raw)
		}
	})
	t.Run("GET straight from the upstream shows only sealed values", func(t *testing.T) {
		_, raw := get(t, up.URL()+"/customers/"+aliceID)
		for _, p := range plaintextsOf(alice) {
			if bytes.Contains(raw, []byte(p)) {
				t.Errorf("the upstream returns plaintext %q: %s", p, raw)
			}
		}
	})

	t.Run("keys rotate under concurrent load fails no request and new values carry the new key id", func(t *testing.T) {
		l := startLoad(s, "rot", 8, 100_000)
		defer l.finish()
		l.waitOK(t, 100)
		rot := keysJSON(t, "keys", "rotate", "--config", s.ConfigFile)
		if rot.Primary != 2 || !rot.Rotated {
			t.Fatalf("keys rotate = %+v, want primary 2", rot)
		}
		s.waitReady(t, "primary 2", func(status int, rep readyReport) bool { return status == 200 && rep.Keys.Primary == 2 })
		switched := time.Now()
		l.waitOK(t, l.ok.Load()+200)
		failures := l.finish()
		if len(failures) > 0 {
			t.Fatalf("%d failed requests during rotation, first: %v", len(failures), firstN(failures, 5))
		}
		byKey := map[uint32]int{}
		for _, c := range l.customers() {
			ids := storedKeyIDs(t, up, c.id)
			byKey[ids[0]]++
			if c.when.After(switched) && (ids[0] != 2 || ids[1] != 2 || ids[2] != 2) {
				t.Errorf("customer %s sent after /readyz reported primary 2 is sealed under %v", c.id, ids)
			}
		}
		t.Logf("%d requests under load, 0 failed; stored values by key id: %v", l.ok.Load(), byKey)
		if byKey[1] == 0 || byKey[2] == 0 {
			t.Errorf("stored values by key id %v: want values under both versions", byKey)
		}
		// Values sealed before the rotation still open: alice and up to 500 of
		// the load's v1 values, spread over the whole run. (One list read would
		// exceed the proxy's response body limit after a few thousand records.)
		var v1 []createdCustomer
		for _, c := range l.customers() {
			if storedKeyIDs(t, up, c.id)[0] == 1 {
				v1 = append(v1, c)
			}
		}
		step := max(1, len(v1)/500)
		checked := 0
		for i := 0; i < len(v1); i += step {
			status, raw := get(t, s.URL+"/customers/"+v1[i].id)
			if err := checkOpened(raw, v1[i].doc); status != http.StatusOK || err != nil {
				t.Errorf("value sealed before rotation, customer %s: status %d, %v", v1[i].id, status, err)
			}
			checked++
		}
		status, raw := get(t, s.URL+"/customers/"+aliceID)
		if err := checkOpened(raw, alice); status != http.StatusOK || err != nil {
			t.Errorf("alice, sealed before rotation: status %d, %v", status, err)
		}
		t.Logf("%d values sealed under v1 reopened after the rotation", checked+1)
		logRefreshLatency(t, s.metrics(t))
	})

	t.Run("CMK rotation on demand then keys rotate --if-cmk-rotated adds a version the running proxy picks up", func(t *testing.T) {
		if st := keysJSON(t, "keys", "rotate", "--if-cmk-rotated", "--config", s.ConfigFile); st.Rotated || st.Primary != 2 {
			t.Fatalf("before the CMK rotated: keys rotate --if-cmk-rotated = %+v, want no rotation", st)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := m.kms().RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(cmkID)}); err != nil {
			t.Fatalf("kms RotateKeyOnDemand: %v", err)
		}
		st := keysJSON(t, "keys", "rotate", "--if-cmk-rotated", "--config", s.ConfigFile)
		if !st.Rotated || st.Primary != 3 {
			t.Fatalf("after the CMK rotated: keys rotate --if-cmk-rotated = %+v, want primary 3", st)
		}
		t.Logf("keys rotate --if-cmk-rotated re-wrapped versions %v and added v%d", st.Rewrapped, st.Primary)
		s.waitReady(t, "primary 3", func(status int, rep readyReport) bool { return status == 200 && rep.Keys.Primary == 3 })

		bob := customer("bob")
		bobID := createThrough(t, s, bob)
		if ids := storedKeyIDs(t, up, bobID); ids[0] != 3 || ids[1] != 3 || ids[2] != 3 {
			t.Errorf("value sealed after the CMK rotation carries key ids %v, want 3", ids)
		}
		if ids := storedKeyIDs(t, up, aliceID); ids[0] != 1 {
			t.Fatalf("alice is stored under %v, want 1", ids)
		}
		status, raw := get(t, s.URL+"/customers/"+aliceID)
		if err := checkOpened(raw, alice); status != http.StatusOK || err != nil {
			t.Errorf("value sealed under v1 after the CMK rotation: status %d, %v", status, err)
		}
		if st := keysJSON(t, "keys", "rotate", "--if-cmk-rotated", "--config", s.ConfigFile); st.Rotated || st.Primary != 3 {
			t.Errorf("a second keys rotate --if-cmk-rotated = %+v, want no rotation", st)
		}
		var ring struct{ Keys []struct{ Wrapped string } }
		if err := json.Unmarshal([]byte(m.secretString(t, secret)), &ring); err != nil || len(ring.Keys) != 3 {
			t.Fatalf("the ring secret holds %d keys (%v), want 3", len(ring.Keys), err)
		}
		text := string(fieldseal(t, "keys", "status", "--config", s.ConfigFile))
		followed := ""
		for _, line := range strings.Split(text, "\n") {
			if rest, ok := strings.CutPrefix(line, "cmk rotation followed:"); ok {
				followed = strings.TrimSpace(rest)
			}
		}
		if !strings.Contains(text, "v3") || !strings.Contains(text, cmkID) || followed == "" || followed == "none" {
			t.Errorf("keys status does not show v3, the CMK and the CMK rotation followed:\n%s", text)
		}
		for _, k := range ring.Keys {
			if strings.Contains(text, k.Wrapped) {
				t.Errorf("keys status prints a wrapped key:\n%s", text)
			}
		}
		logRefreshLatency(t, s.metrics(t))
	})
}

// TestSidecarOnMotoCallsAWSPerKeyVersionNotPerRequest proves with the
// sidecar's own metrics that requests do not reach KMS or Secrets Manager:
// a burst of first requests unwraps each key version once, and steady state
// makes no AWS call at all.
func TestSidecarOnMotoCallsAWSPerKeyVersionNotPerRequest(t *testing.T) {
	m, up, alias, _ := startStack(t)
	// Refreshes effectively off for the test's duration, CMK check off: every
	// AWS call the counters show is then the first load's.
	s := writeConfig(t, settings{upstream: up.URL(), endpoint: m.url, secret: secretName(), cmk: alias,
		refreshInterval: time.Hour, cmkCheckInterval: 0})
	fieldseal(t, "keys", "init", "--config", s.ConfigFile)
	fieldseal(t, "keys", "rotate", "--config", s.ConfigFile)
	if st := keysJSON(t, "keys", "rotate", "--config", s.ConfigFile); st.Primary != 3 || len(st.Versions) != 3 {
		t.Fatalf("ring = %+v, want 3 versions", st)
	}
	const versions = 3

	// 200 requests released at once, as soon as the proxy accepts connections:
	// the first key load may still be running, and those requests answer 503.
	const burst = 200
	s.serveAndCatchStart(t)
	statuses := concurrentPosts(t, s, "first", burst)
	s.waitReady(t, "ready", func(status int, rep readyReport) bool { return status == 200 })
	after := concurrentPosts(t, s, "second", burst)

	t.Run("200 concurrent first requests cause one Decrypt per key version", func(t *testing.T) {
		t.Logf("burst at start: %v; burst once ready: %v", statuses, after)
		for code := range statuses {
			if code != http.StatusCreated && code != http.StatusServiceUnavailable {
				t.Errorf("a first request answered %d, want 201 or 503 (keys loading)", code)
			}
		}
		if after[http.StatusCreated] != burst {
			t.Errorf("once ready: %v, want %d x 201", after, burst)
		}
		sc := s.metrics(t)
		if got := calls(sc, "Decrypt"); got != versions+1 {
			t.Errorf("kms Decrypt calls = %v, want %d (one per key version, one for the metadata seal)", got, versions+1)
		}
		if got := calls(sc, "GetSecretValue"); got != 1 {
			t.Errorf("secretsmanager GetSecretValue calls = %v, want 1", got)
		}
		if got := calls(sc, ""); got != versions+2 {
			t.Errorf("AWS calls in all = %v, want %d", got, versions+2)
		}
		logRefreshLatency(t, sc)
	})

	t.Run("steady state makes zero KMS and Secrets Manager calls per request", func(t *testing.T) {
		before := s.metrics(t)
		l := startLoad(s, "steady", 8, 500) // 500 POST+GET pairs = 1,000 protected requests
		if failures := l.wait(); len(failures) > 0 {
			t.Fatalf("%d failed requests, first: %v", len(failures), firstN(failures, 5))
		}
		if l.ok.Load() != 1000 {
			t.Fatalf("%d requests succeeded, want 1000", l.ok.Load())
		}
		after := s.metrics(t)
		proxied := after.Sum("fieldseal_proxy_requests_total", map[string]string{"outcome": "ok"}) -
			before.Sum("fieldseal_proxy_requests_total", map[string]string{"outcome": "ok"})
		if proxied < 1000 {
			t.Fatalf("the proxy counted %v protected requests, want 1000", proxied)
		}
		for _, svc := range []string{"kms", "secretsmanager"} {
			d := after.Sum("fieldseal_keys_provider_calls_total", map[string]string{"service": svc}) -
				before.Sum("fieldseal_keys_provider_calls_total", map[string]string{"service": svc})
			t.Logf("%s calls per 10,000 proxied requests in steady state: %v", svc, d*10000/proxied)
			if d != 0 {
				t.Errorf("%s calls moved by %v during %v proxied requests", svc, d, proxied)
			}
		}
	})
}

// concurrentPosts sends n POSTs released together and counts their statuses.
func concurrentPosts(t *testing.T, s *sidecar, prefix string, n int) map[int]int {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			c := customer(fmt.Sprintf("%s-%d", prefix, i))
			status, raw, err := do(http.MethodPost, s.URL+"/customers", c)
			switch {
			case err != nil:
				status = -1
			case status == http.StatusCreated:
				if err := checkOpened(raw, c); err != nil {
					status = -2
				}
			case status == http.StatusServiceUnavailable:
				if !bytes.Contains(raw, []byte(`"keys_unavailable"`)) {
					status = -3
				}
			}
			mu.Lock()
			statuses[status]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return statuses
}

// TestSidecarKeepsServingThroughAMotoOutage stops moto under a running
// sidecar and starts it again.
func TestSidecarKeepsServingThroughAMotoOutage(t *testing.T) {
	m, up, alias, _ := startStack(t)
	secret := secretName()
	s := writeConfig(t, settings{upstream: up.URL(), endpoint: m.url, secret: secret, cmk: alias,
		refreshInterval: time.Second, callTimeout: time.Second})
	fieldseal(t, "keys", "init", "--config", s.ConfigFile)
	// A copy of the ring, to restore it after the restart as a backup would be.
	saved := m.secretString(t, secret)
	s.serveReady(t)
	alice := customer("alice")
	aliceID := createThrough(t, s, alice)
	decryptsBefore := calls(s.metrics(t), "Decrypt")

	m.stop()
	t.Run("with moto down requests keep succeeding from the cache and readyz shows the refresh failures", func(t *testing.T) {
		l := startLoad(s, "outage", 8, 100_000)
		defer l.finish()
		rep := s.waitReady(t, "refresh failures", func(status int, rep readyReport) bool {
			return rep.Keys.ConsecutiveFailures >= 2
		})
		l.waitOK(t, l.ok.Load()+100)
		if failures := l.finish(); len(failures) > 0 {
			t.Fatalf("%d failed requests during the outage, first: %v", len(failures), firstN(failures, 5))
		}
		status, rep, raw := s.ready(t)
		if status != http.StatusOK || !rep.Ready || rep.Keys.LastError == "" || rep.Keys.ConsecutiveFailures < 1 {
			t.Errorf("/readyz during the outage: %d %s", status, raw)
		}
		if !strings.Contains(rep.Keys.LastError, "secretsmanager DescribeSecret") {
			t.Errorf("last_error does not name the failed call: %q", rep.Keys.LastError)
		}
		if got := s.metrics(t).Sum("fieldseal_keys_consecutive_failures", nil); got < 1 {
			t.Errorf("fieldseal_keys_consecutive_failures = %v during the outage, want > 0", got)
		}
		if age := s.metrics(t).Sum("fieldseal_keys_ring_age_seconds", nil); age <= 0 {
			t.Errorf("fieldseal_keys_ring_age_seconds = %v during the outage, want > 0", age)
		}
		if ev := s.LogEvents(t); ev["keys_error"] < 1 {
			t.Errorf("no keys_error event in the log during the outage; events: %v", ev)
		}
		status, raw = get(t, s.URL+"/customers/"+aliceID)
		if err := checkOpened(raw, alice); status != http.StatusOK || err != nil {
			t.Errorf("value sealed before the outage: status %d, %v", status, err)
		}
		t.Logf("%d requests served during the outage; readyz: %d failures, last_error %q", l.ok.Load(), rep.Keys.ConsecutiveFailures, rep.Keys.LastError)
	})

	// moto keeps its state in memory: a restarted moto is empty. Restore the
	// secret from the copy; the CMK cannot be restored (moto cannot import key
	// material), which the sidecar does not need: it keeps the data keys it
	// unwrapped and the restored ring holds no new version.
	m.start()
	motoserver.CreateSecretString(t, m.secrets(), secret, saved)
	t.Run("after moto is back the next refresh succeeds", func(t *testing.T) {
		s.waitReady(t, "no refresh failures", func(status int, rep readyReport) bool {
			return status == 200 && rep.Keys.ConsecutiveFailures == 0 && rep.Keys.LastError == ""
		})
		sc := s.metrics(t)
		if got := sc.Sum("fieldseal_keys_consecutive_failures", nil); got != 0 {
			t.Errorf("fieldseal_keys_consecutive_failures = %v after recovery", got)
		}
		if got := calls(sc, "Decrypt"); got != decryptsBefore {
			t.Errorf("kms Decrypt calls went from %v to %v: the recovery unwrapped keys it held", decryptsBefore, got)
		}
		status, raw := get(t, s.URL+"/customers/"+aliceID)
		if err := checkOpened(raw, alice); status != http.StatusOK || err != nil {
			t.Errorf("value sealed before the outage: status %d, %v", status, err)
		}
		createThrough(t, s, customer("after-outage"))
		logRefreshLatency(t, sc)
	})
}

// TestSidecarStartingWithoutAWSServesNoProtectedRoute starts the sidecar with
// its AWS endpoint unreachable (nothing listens there), then starts moto on
// that port; only that last step needs moto_server.
func TestSidecarStartingWithoutAWSServesNoProtectedRoute(t *testing.T) {
	up := startUpstream(t)
	downPort := testproc.FreePort(t)
	down := fmt.Sprintf("http://127.0.0.1:%d", downPort)
	s := writeConfig(t, settings{upstream: up.URL(), endpoint: down, secret: secretName(),
		refreshInterval: time.Second, callTimeout: time.Second})
	s.Serve(t)

	t.Run("readyz answers 503 with the load error", func(t *testing.T) {
		rep := s.waitReady(t, "a failed first load", func(status int, rep readyReport) bool { return rep.Keys.LastError != "" })
		status, rep, raw := s.ready(t)
		if status != http.StatusServiceUnavailable || rep.Ready || rep.Keys.Loaded {
			t.Errorf("/readyz: %d %s", status, raw)
		}
		if !strings.Contains(rep.Keys.LastError, "secretsmanager GetSecretValue") {
			t.Errorf("last_error does not name the failed call: %q", rep.Keys.LastError)
		}
	})
	t.Run("protected routes answer 503 with a JSON error and forward nothing", func(t *testing.T) {
		for _, r := range []struct {
			method, path string
			body         any
		}{
			{http.MethodPost, "/customers", customer("refused")},
			{http.MethodGet, "/customers/1", nil},
			{http.MethodGet, "/customers", nil},
		} {
			status, raw, err := do(r.method, s.URL+r.path, r.body)
			if err != nil {
				t.Fatal(err)
			}
			var e struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if status != http.StatusServiceUnavailable || json.Unmarshal(raw, &e) != nil || e.Error.Code != "keys_unavailable" {
				t.Errorf("%s %s: status %d: %s", r.method, r.path, status, raw)
			}
		}
		if reqs, _ := seen(up); len(reqs) != 0 {
			t.Errorf("the upstream received %v", reqs)
		}
	})
	t.Run("unprotected routes still pass through", func(t *testing.T) {
		// The store answers an unknown path 404 with its own body.
		status, raw := get(t, s.URL+"/public/ping")
		if status != http.StatusNotFound || string(raw) != `{"message":"not found"}` {
			t.Errorf("GET /public/ping: status %d: %s", status, raw)
		}
		if reqs, _ := seen(up); len(reqs) != 1 || reqs[0] != "GET /public/ping" {
			t.Errorf("the upstream received %v, want only GET /public/ping", reqs)
		}
	})
	t.Run("once AWS answers with the ring the sidecar becomes ready without a restart", func(t *testing.T) {
		m := startMotoOn(t, downPort)
		alias, _ := m.createCMK(t)
		fieldseal(t, "keys", "init", "--config", s.ConfigFile, "--kms-key-id", alias)
		s.waitReady(t, "ready", func(status int, rep readyReport) bool {
			return status == http.StatusOK && rep.Keys.ConsecutiveFailures == 0
		})
		id := createThrough(t, s, customer("late"))
		if ids := storedKeyIDs(t, up, id); ids[0] != 1 {
			t.Errorf("stored under key ids %v, want 1", ids)
		}
	})
}

// TestSidecarOnARingWithAForeignKeyNamesTheRefusedCall serves a ring whose
// primary's wrapped key was taken from another ring: KMS refuses it (the
// encryption context names the ring id and version), and the sidecar says
// which call failed on what. A whole ring copied under another name, by
// contrast, serves: keys are bound to the ring id, not the secret name.
func TestSidecarOnARingWithAForeignKeyNamesTheRefusedCall(t *testing.T) {
	m, up, alias, _ := startStack(t)
	original, copied, foreign := secretName(), secretName(), secretName()
	orig := writeConfig(t, settings{upstream: up.URL(), endpoint: m.url, secret: original, cmk: alias, refreshInterval: time.Minute})
	fieldseal(t, "keys", "init", "--config", orig.ConfigFile)
	other := writeConfig(t, settings{upstream: up.URL(), endpoint: m.url, secret: foreign, cmk: alias, refreshInterval: time.Minute})
	fieldseal(t, "keys", "init", "--config", other.ConfigFile)
	sv, fv := m.secretString(t, original), m.secretString(t, foreign)
	// The foreign ring's v1 slot gets the original ring's wrapped v1 (the
	// metadata seal does not cover wrapped bytes; KMS refuses them).
	var orr, frr map[string]any
	json.Unmarshal([]byte(sv), &orr)
	json.Unmarshal([]byte(fv), &frr)
	frr["keys"].([]any)[0].(map[string]any)["wrapped"] = orr["keys"].([]any)[0].(map[string]any)["wrapped"]
	motoserver.PutSecretString(t, m.secrets(), foreign, string(mustJSON(frr)))
	motoserver.CreateSecretString(t, m.secrets(), copied, sv)
	t.Run("a ring copied under another secret name serves", func(t *testing.T) {
		c := writeConfig(t, settings{upstream: up.URL(), endpoint: m.url, secret: copied, refreshInterval: time.Minute})
		c.Serve(t)
		c.waitReady(t, "ready", func(status int, rep readyReport) bool { return status == http.StatusOK })
	})
	s := writeConfig(t, settings{upstream: up.URL(), endpoint: m.url, secret: foreign, refreshInterval: time.Minute})
	s.Serve(t)
	rep := s.waitReady(t, "a failed first load", func(status int, rep readyReport) bool { return rep.Keys.LastError != "" })
	status, _, raw := s.ready(t)
	if status != http.StatusServiceUnavailable || rep.Ready {
		t.Errorf("/readyz on a ring with a foreign key: %d %s", status, raw)
	}
	want := fmt.Sprintf("kms Decrypt key v1 of secret %q", foreign)
	if !strings.Contains(rep.Keys.LastError, want) {
		t.Errorf("last_error = %q, want it to name %s", rep.Keys.LastError, want)
	}
	if status, raw := post(t, s.URL+"/customers", customer("x")); status != http.StatusServiceUnavailable {
		t.Errorf("POST on a ring with a foreign key: status %d: %s", status, raw)
	}
	t.Logf("last_error: %s", rep.Keys.LastError)
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// TestTwoSidecarsOnOneRingAfterRotation runs a small fleet: two sidecars in
// front of one app, on one ring, one configured with an endpoint and one
// through the SDK's endpoint variables. After a rotation, a value sealed by the
// sidecar that refreshed first opens on the other at once: meeting a key
// version it lacks, the other sidecar refreshes on demand instead of failing
// until its next periodic refresh (rotation without downtime).
func TestTwoSidecarsOnOneRingAfterRotation(t *testing.T) {
	m, up, alias, _ := startStack(t)
	secret := secretName()
	fast := writeConfig(t, settings{upstream: up.URL(), endpoint: m.url, secret: secret, cmk: alias, refreshInterval: time.Second})
	// The second sidecar finds moto through the SDK's per-service endpoint
	// variables rather than its config.
	// Its periodic refresh is an hour away: only the on-demand refresh can
	// bring it the new version during this test.
	slow := writeConfig(t, settings{upstream: up.URL(), secret: secret, refreshInterval: time.Hour,
		env: []string{"AWS_ENDPOINT_URL_KMS=" + m.url, "AWS_ENDPOINT_URL_SECRETS_MANAGER=" + m.url}})
	fieldseal(t, "keys", "init", "--config", fast.ConfigFile)
	fast.Serve(t)
	slow.Serve(t)
	for _, s := range []*sidecar{fast, slow} {
		s.waitReady(t, "ready", func(status int, rep readyReport) bool { return status == http.StatusOK })
	}

	fieldseal(t, "keys", "rotate", "--config", fast.ConfigFile)
	fast.waitReady(t, "primary 2", func(status int, rep readyReport) bool { return rep.Keys.Primary == 2 })
	carol := customer("carol")
	id := createThrough(t, fast, carol)
	if ids := storedKeyIDs(t, up, id); ids[0] != 2 {
		t.Fatalf("stored under %v, want 2", ids)
	}
	_, rep, _ := slow.ready(t)
	slowPrimary := rep.Keys.Primary
	if slowPrimary != 1 {
		t.Fatalf("the second sidecar is on primary v%d before any read, want 1", slowPrimary)
	}

	t.Run("the other sidecar opens the new value on the first read, before its periodic refresh", func(t *testing.T) {
		status, raw := get(t, slow.URL+"/customers/"+id)
		if status != http.StatusOK {
			t.Fatalf("status %d: %s, want 200 (the sidecar was on primary v%d)", status, raw, slowPrimary)
		}
		if err := checkOpened(raw, carol); err != nil {
			t.Fatal(err)
		}
		_, rep, _ := slow.ready(t)
		if rep.Keys.Primary != 2 {
			t.Errorf("after the read the second sidecar is on primary v%d, want 2", rep.Keys.Primary)
		}
	})
}
