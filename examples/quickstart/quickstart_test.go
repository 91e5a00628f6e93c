// Package quickstart_test runs the quick start for real: the fieldseal binary
// built from this repository, in front of the real json-server from npm, on
// the embedded local key provider. It proves what the README promises: the
// app's db file holds only sealed values for the protected fields, reads
// through fieldseal return plaintext, and reads straight from the app do not.
package quickstart_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
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

	"github.com/fieldseal/fieldseal/internal/testproc"
)

// env is one running quick start: json-server and fieldseal on free ports.
type env struct {
	bin    string // fieldseal binary
	dir    string // data directory
	config string // config file
	app    string // json-server base URL
	proxy  string // fieldseal base URL
	admin  string // fieldseal admin base URL
	db     string // json-server's db file
}

// fieldsealBin is the binary TestMain builds once for the test binary.
var fieldsealBin string

func TestMain(m *testing.M) {
	os.Exit(testproc.RunWithBuild(m, "../../cmd/fieldseal", &fieldsealBin))
}

func jsonServer(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("node_modules/.bin/json-server")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		testproc.Missing(t, fmt.Sprintf("json-server is not installed (%v); run `npm ci` in examples/quickstart (or the README's test command) to run this test", err))
	}
	return p
}

func (e *env) fieldseal(t *testing.T, stdin []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(e.bin, args...)
	cmd.Dir = e.dir
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("fieldseal %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

func startEnv(t *testing.T) *env {
	t.Helper()
	js := jsonServer(t)
	dir := t.TempDir()
	e := &env{dir: dir, bin: fieldsealBin, db: filepath.Join(dir, "db.json")}
	appPort, proxyPort, adminPort := testproc.FreePort(t), testproc.FreePort(t), testproc.FreePort(t)
	e.app = fmt.Sprintf("http://127.0.0.1:%d", appPort)
	e.proxy = fmt.Sprintf("http://127.0.0.1:%d", proxyPort)
	e.admin = fmt.Sprintf("http://127.0.0.1:%d", adminPort)

	// The quick start's own config, moved to free ports and this test's data dir.
	cfg, err := os.ReadFile("fieldseal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := string(cfg)
	for old, repl := range map[string]string{
		"127.0.0.1:8080":        fmt.Sprintf("127.0.0.1:%d", proxyPort),
		"127.0.0.1:3000":        fmt.Sprintf("127.0.0.1:%d", appPort),
		"127.0.0.1:9090":        fmt.Sprintf("127.0.0.1:%d", adminPort),
		"refresh_interval: 10s": "refresh_interval: 1s",
		".data/":                "",
	} {
		if !strings.Contains(s, old) {
			t.Fatalf("quick start config no longer contains %q; update this test", old)
		}
		s = strings.ReplaceAll(s, old, repl)
	}
	e.config = filepath.Join(dir, "fieldseal.yaml")
	if err := os.WriteFile(e.config, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "master.key"), e.fieldseal(t, nil, "keys", "master-key"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.fieldseal(t, nil, "keys", "init", "--config", e.config)
	seed, err := os.ReadFile("db.seed.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.db, seed, 0o600); err != nil {
		t.Fatal(err)
	}

	app := testproc.Start(t, testproc.Options{Log: filepath.Join(dir, "json-server.log"), Grace: 10 * time.Second},
		js, "--host", "127.0.0.1", "--port", fmt.Sprint(appPort), "--quiet", e.db)
	serve := testproc.Start(t, testproc.Options{Log: filepath.Join(dir, "fieldseal.log"), Grace: 10 * time.Second},
		e.bin, "serve", "--config", e.config)
	app.WaitHTTP(t, e.app+"/customers", 30*time.Second, nil)
	serve.WaitHTTP(t, e.admin+"/readyz", 30*time.Second, nil)
	return e
}

func do(t *testing.T, method, url string, body any) (int, map[string]any, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
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

var alice = map[string]any{
	"name":    "Alice Example",
	"email":   "alice@example.com",
	"phone":   "+82-10-1234-5678",
	"address": map[string]any{"street": "1 Sejong-daero", "city": "Seoul"},
	"plan":    "gold",
}

// plaintexts are the protected values of alice and of the updates below.
var plaintexts = []string{"alice@example.com", "+82-10-1234-5678", "1 Sejong-daero", "alice@new.example", "2 Teheran-ro", "+82-10-9999-0000"}

// readDB returns the app's db file once it mentions every string in want:
// json-server writes its file after it answers, so a test waits for the write
// it caused before it inspects the file.
func readDB(t *testing.T, e *env, want ...string) []byte {
	t.Helper()
	return testproc.WaitFileContains(t, e.db, 10*time.Second, want...)
}

// assertDBHasNoPlaintext waits until the db file holds every marker (values
// of unprotected fields that the last write stored) and then checks that no
// protected plaintext is in it and sealed values are.
func assertDBHasNoPlaintext(t *testing.T, e *env, markers ...string) {
	t.Helper()
	db := readDB(t, e, append(markers, `"fs1:`)...)
	for _, p := range plaintexts {
		if bytes.Contains(db, []byte(p)) {
			t.Errorf("the app's db file holds plaintext %q:\n%s", p, db)
		}
	}
}

// keyID reads the key version from a sealed value's header, as the README's
// wire format describes it: fs1: + base64url(alg, type, key id uint32 BE, ...).
func keyID(t *testing.T, sealed string) uint32 {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(sealed, "fs1:"))
	if err != nil || len(raw) < 6 || !strings.HasPrefix(sealed, "fs1:") {
		t.Fatalf("not a sealed value: %q (%v)", sealed, err)
	}
	return binary.BigEndian.Uint32(raw[2:6])
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
		_, direct, raw := do(t, http.MethodGet, e.app+"/customers/"+id, nil)
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
		before := readDB(t, e, `"silver"`, `"Bob"`)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.proxy+"/customers", strings.NewReader(`{"email":"carol@example.com",`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !bytes.Contains(body, []byte(`"request_id"`)) {
			t.Errorf("status %d: %s", resp.StatusCode, body)
		}
		after, _ := os.ReadFile(e.db)
		if !bytes.Equal(before, after) || bytes.Contains(after, []byte("carol@example.com")) {
			t.Errorf("the db changed after a refused write")
		}
	})

	t.Run("a key rotation is picked up without restart and old values still open", func(t *testing.T) {
		e.fieldseal(t, nil, "keys", "rotate", "--config", e.config)
		// The sidecar refreshes every second in this test; wait until readyz reports v2.
		deadline := time.Now().Add(20 * time.Second)
		for {
			_, ready, _ := do(t, http.MethodGet, e.admin+"/readyz", nil)
			if keys, _ := ready["keys"].(map[string]any); fmt.Sprint(keys["primary"]) == "2" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("readyz never reported primary version 2: %v", ready)
			}
			time.Sleep(100 * time.Millisecond)
		}
		_, dave, raw := do(t, http.MethodPost, e.proxy+"/customers", map[string]any{"name": "Dave", "email": "dave@example.com"})
		_, direct, _ := do(t, http.MethodGet, e.app+"/customers/"+fmt.Sprint(dave["id"]), nil)
		newSealed, _ := direct["email"].(string)
		_, oldDirect, _ := do(t, http.MethodGet, e.app+"/customers/"+id, nil)
		oldSealed, _ := oldDirect["email"].(string)
		if got := keyID(t, newSealed); got != 2 {
			t.Errorf("value sealed after rotation carries key id %d, want 2 (%s)", got, raw)
		}
		if got := keyID(t, oldSealed); got != 1 {
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
