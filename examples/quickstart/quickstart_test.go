// Package quickstart_test runs the quick start for real: the fieldseal binary
// built from this repository, in front of the real json-server from npm, on
// the embedded local key provider. It proves what the README promises: the
// app's db file holds only sealed values for the protected fields, reads
// through fieldseal return plaintext, and reads straight from the app do not.
package quickstart_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
	"github.com/fieldseal/fieldseal/internal/testproc"
)

// env is one running quick start: json-server and fieldseal on free ports.
type env struct {
	dir    string // fieldseal's directory: config and keys
	config string // config file
	app    *sidecartest.JSONServer
	proxy  string // fieldseal base URL
	admin  string // fieldseal admin base URL
}

// fieldsealBin is the binary TestMain builds once for the test binary.
var fieldsealBin string

func TestMain(m *testing.M) {
	os.Exit(sidecartest.RunWithBinary(m, &fieldsealBin))
}

func (e *env) fieldseal(t *testing.T, stdin []byte, args ...string) []byte {
	t.Helper()
	return testproc.MustExec(t, testproc.Cmd{Dir: e.dir, Stdin: stdin}, fieldsealBin, args...)
}

func startEnv(t *testing.T) *env {
	t.Helper()
	seed, err := os.ReadFile("db.seed.json")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{dir: t.TempDir(), app: sidecartest.StartJSONServer(t, string(seed))}
	proxyAddr, adminAddr := testproc.FreeAddr(t), testproc.FreeAddr(t)
	e.proxy, e.admin = "http://"+proxyAddr, "http://"+adminAddr

	// The quick start's own config, moved to free ports and this test's data dir.
	cfg, err := os.ReadFile("fieldseal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := string(cfg)
	for old, repl := range map[string]string{
		"127.0.0.1:8080":        proxyAddr,
		"http://127.0.0.1:3000": e.app.URL,
		"127.0.0.1:9090":        adminAddr,
		"refresh_interval: 10s": "refresh_interval: 1s",
		".data/":                "",
	} {
		if !strings.Contains(s, old) {
			t.Fatalf("quick start config no longer contains %q; update this test", old)
		}
		s = strings.ReplaceAll(s, old, repl)
	}
	e.config = filepath.Join(e.dir, "fieldseal.yaml")
	if err := os.WriteFile(e.config, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.dir, "master.key"), e.fieldseal(t, nil, "keys", "master-key"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.fieldseal(t, nil, "keys", "init", "--config", e.config)
	serve := testproc.Start(t, testproc.Options{Log: filepath.Join(e.dir, "fieldseal.log"), Grace: 10 * time.Second},
		fieldsealBin, "serve", "--config", e.config)
	serve.WaitHTTP(t, e.admin+"/readyz", 30*time.Second, nil)
	return e
}

// do sends body (nil: none) as JSON and returns the status, the decoded
// object (nil if not one) and the raw body.
func do(t *testing.T, method, url string, body any) (int, map[string]any, []byte) {
	t.Helper()
	resp, err := sidecartest.SendJSON(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	_ = json.Unmarshal(resp.Body, &obj)
	return resp.Status, obj, resp.Body
}

var alice = map[string]any{
	"name":    "Alice Example",
	"email":   "alice@example.com",
	"phone":   "+82-10-1234-5678",
	"address": map[string]any{"street": "1 Sejong-daero", "city": "Seoul"},
	"plan":    "gold",
}

// plaintexts are the protected values of alice and of the updates below.
var plaintexts = []string{"alice@example.com", "+82-10-1234-5678", "1 Sejong-daero", "alice@new.example", "2 Teheran-ro", "+82-10-9999-0000"}

// assertDBHasNoPlaintext waits until the db file holds every marker (values
// of unprotected fields that the last write stored) and then checks that no
// protected plaintext is in it and sealed values are.
func assertDBHasNoPlaintext(t *testing.T, e *env, markers ...string) {
	t.Helper()
	db := e.app.ReadDB(t, append(markers, `"fs1:`)...)
	for _, p := range plaintexts {
		if bytes.Contains(db, []byte(p)) {
			t.Errorf("the app's db file holds plaintext %q:\n%s", p, db)
		}
	}
}

func TestQuickStart(t *testing.T) {
	e := startEnv(t)

	status, created, raw := do(t, http.MethodPost, e.proxy+"/customers", alice)
	if status != http.StatusCreated {
		t.Fatalf("POST /customers through fieldseal: status %d: %s", status, raw)
	}
	id := fmt.Sprint(created["id"])
	t.Run("POST response through fieldseal is plaintext", func(t *testing.T) {
		if created["email"] != "alice@example.com" || created["phone"] != "+82-10-1234-5678" {
			t.Errorf("created = %s", raw)
		}
		if created["address"].(map[string]any)["street"] != "1 Sejong-daero" {
			t.Errorf("created address = %s", raw)
		}
	})
	t.Run("the app stores only sealed values after POST", func(t *testing.T) { assertDBHasNoPlaintext(t, e, `"gold"`) })

	t.Run("GET straight from the app returns sealed values", func(t *testing.T) {
		_, direct, raw := do(t, http.MethodGet, e.app.URL+"/customers/"+id, nil)
		for _, f := range []string{"email", "phone"} {
			if s, _ := direct[f].(string); !strings.HasPrefix(s, "fs1:") {
				t.Errorf("app's %s = %v, want a sealed value: %s", f, direct[f], raw)
			}
		}
		if direct["plan"] != "gold" || direct["name"] != "Alice Example" {
			t.Errorf("unprotected fields changed: %s", raw)
		}
	})

	t.Run("GET of one customer through fieldseal returns plaintext", func(t *testing.T) {
		status, got, raw := do(t, http.MethodGet, e.proxy+"/customers/"+id, nil)
		if status != http.StatusOK || got["email"] != "alice@example.com" || got["address"].(map[string]any)["street"] != "1 Sejong-daero" {
			t.Errorf("status %d: %s", status, raw)
		}
	})

	t.Run("PUT and PATCH store only sealed values", func(t *testing.T) {
		put := map[string]any{"name": "Alice Example", "email": "alice@new.example", "phone": "+82-10-1234-5678",
			"address": map[string]any{"street": "2 Teheran-ro", "city": "Busan"}, "plan": "platinum"}
		if status, _, raw := do(t, http.MethodPut, e.proxy+"/customers/"+id, put); status != http.StatusOK {
			t.Fatalf("PUT: status %d: %s", status, raw)
		}
		assertDBHasNoPlaintext(t, e, `"platinum"`, `"Busan"`)
		status, got, raw := do(t, http.MethodPatch, e.proxy+"/customers/"+id, map[string]any{"phone": "+82-10-9999-0000", "plan": "silver"})
		if status != http.StatusOK || got["phone"] != "+82-10-9999-0000" || got["email"] != "alice@new.example" {
			t.Fatalf("PATCH: status %d: %s", status, raw)
		}
		assertDBHasNoPlaintext(t, e, `"silver"`)
	})

	t.Run("GET of the list through fieldseal returns plaintext", func(t *testing.T) {
		do(t, http.MethodPost, e.proxy+"/customers", map[string]any{"name": "Bob", "email": "bob@example.com", "phone": "010-0000-1111"})
		status, _, raw := do(t, http.MethodGet, e.proxy+"/customers", nil)
		var list []map[string]any
		if err := json.Unmarshal(raw, &list); err != nil || status != http.StatusOK || len(list) != 2 {
			t.Fatalf("status %d, %v: %s", status, err, raw)
		}
		if list[0]["email"] != "alice@new.example" || list[1]["email"] != "bob@example.com" || list[1]["phone"] != "010-0000-1111" {
			t.Errorf("list = %s", raw)
		}
	})

	t.Run("a write with invalid JSON is refused and nothing is stored", func(t *testing.T) {
		before := e.app.ReadDB(t, `"silver"`, `"Bob"`)
		resp, err := sidecartest.Send(e.proxy, sidecartest.Req{Method: http.MethodPost, Path: "/customers", JSON: `{"email":"carol@example.com",`})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != http.StatusBadRequest || !bytes.Contains(resp.Body, []byte(`"request_id"`)) {
			t.Errorf("status %d: %s", resp.Status, resp.Body)
		}
		after, _ := os.ReadFile(e.app.DB)
		if !bytes.Equal(before, after) || bytes.Contains(after, []byte("carol@example.com")) {
			t.Errorf("the db changed after a refused write")
		}
	})

	t.Run("a key rotation is picked up without restart and old values still open", func(t *testing.T) {
		e.fieldseal(t, nil, "keys", "rotate", "--config", e.config)
		// The sidecar refreshes every second in this test; wait until readyz reports v2.
		testproc.Poll(t, 20*time.Second, func() error {
			_, ready, _ := do(t, http.MethodGet, e.admin+"/readyz", nil)
			if keys, _ := ready["keys"].(map[string]any); fmt.Sprint(keys["primary"]) != "2" {
				return fmt.Errorf("readyz does not report primary version 2: %v", ready)
			}
			return nil
		})
		_, dave, raw := do(t, http.MethodPost, e.proxy+"/customers", map[string]any{"name": "Dave", "email": "dave@example.com"})
		_, direct, _ := do(t, http.MethodGet, e.app.URL+"/customers/"+fmt.Sprint(dave["id"]), nil)
		newSealed, _ := direct["email"].(string)
		_, oldDirect, _ := do(t, http.MethodGet, e.app.URL+"/customers/"+id, nil)
		oldSealed, _ := oldDirect["email"].(string)
		if got := sidecartest.KeyID(t, newSealed); got != 2 {
			t.Errorf("value sealed after rotation carries key id %d, want 2 (%s)", got, raw)
		}
		if got := sidecartest.KeyID(t, oldSealed); got != 1 {
			t.Errorf("value sealed before rotation carries key id %d, want 1", got)
		}
		if _, got, raw := do(t, http.MethodGet, e.proxy+"/customers/"+id, nil); got["email"] != "alice@new.example" {
			t.Errorf("value sealed before rotation no longer opens: %s", raw)
		}
	})

	t.Run("the encrypt and decrypt commands round-trip a document offline", func(t *testing.T) {
		doc := []byte(`{"email":"eve@example.com","phone":"1","address":{"street":"3 Main St"},"plan":"x"}`)
		sealed := e.fieldseal(t, doc, "encrypt", "--config", e.config, "--route", "customers-write")
		if bytes.Contains(sealed, []byte("eve@example.com")) || !bytes.Contains(sealed, []byte(`"plan":"x"`)) {
			t.Fatalf("encrypt output: %s", sealed)
		}
		opened := e.fieldseal(t, sealed, "decrypt", "--config", e.config, "--route", "customers-write", "--side", "request")
		var got, want any
		_ = json.Unmarshal(opened, &got)
		_ = json.Unmarshal(doc, &want)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("decrypt(encrypt(doc)) = %s, want %s", opened, doc)
		}
	})
}

// TestQuickStartGuardsEveryRequestShape runs issue 11's examples against the
// real json-server behind the quick start's own config: each request shape
// that once carried plaintext past the field map, and what json-server
// stored (its db file) holds no plaintext.
func TestQuickStartGuardsEveryRequestShape(t *testing.T) {
	e := startEnv(t)
	status, created, raw := do(t, http.MethodPost, e.proxy+"/customers", map[string]any{"name": "Base"})
	if status != http.StatusCreated {
		t.Fatalf("create: %d %s", status, raw)
	}
	id := fmt.Sprint(created["id"])
	secrets := []string{"upper@example.com", "nested@example.com", "+82-10-5555-1111", "override@example.com", "escaped@example.com", "form@example.com"}
	shapes := []struct {
		name string
		req  sidecartest.Req
	}{
		{"member names in another case", sidecartest.Req{Method: "POST", Path: "/customers", JSON: `{"name":"m1","EMAIL":"upper@example.com"}`}},
		{"a member one level deeper", sidecartest.Req{Method: "POST", Path: "/customers", JSON: `{"name":"m2","contact":{"email":"nested@example.com","Mobile":"+82-10-5555-1111"}}`}},
		{"a method override on a route the map lists for GET only", sidecartest.Req{Method: "GET", Path: "/customers/" + id, Header: map[string]string{"X-HTTP-Method-Override": "PATCH"}, JSON: `{"name":"m3","email":"override@example.com"}`}},
		{"a nested json-server route", sidecartest.Req{Method: "POST", Path: "/customers/" + id + "/customers", JSON: `{"name":"m4","e\u006dail":"escaped@example.com"}`}},
		{"a urlencoded form", sidecartest.Req{Method: "POST", Path: "/customers/" + id + "/customers", Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, Body: []byte("name=m5&email=form%40example.com")}},
	}
	for _, s := range shapes {
		resp, err := sidecartest.Send(e.proxy, s.req)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if resp.Status >= 500 {
			t.Errorf("%s: %d %s", s.name, resp.Status, resp.Body)
		}
	}
	db := e.app.ReadDB(t, `"m5"`)
	for _, p := range secrets {
		if bytes.Contains(db, []byte(p)) {
			t.Errorf("json-server stored plaintext %q:\n%s", p, db)
		}
	}
	// Read back through fieldseal, on the nested route no map lists: opened.
	resp, err := sidecartest.Send(e.proxy, sidecartest.Req{Path: "/customers/" + id + "/customers"})
	if err != nil || !bytes.Contains(resp.Body, []byte("escaped@example.com")) || !bytes.Contains(resp.Body, []byte("form@example.com")) {
		t.Errorf("the nested list through fieldseal was not opened: %v %s", err, resp.Body)
	}
}
