package awse2e_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/internal/testproc"
)

// jsonServer returns the json-server binary named by FIELDSEAL_JSON_SERVER
// (scripts/test.sh sets it), skipping without it outside CI.
func jsonServer(t *testing.T) string {
	t.Helper()
	p := os.Getenv("FIELDSEAL_JSON_SERVER")
	if p == "" {
		testproc.Missing(t, "FIELDSEAL_JSON_SERVER is not set; run `npm ci` in examples/quickstart and point it at node_modules/.bin/json-server (make test does)")
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("FIELDSEAL_JSON_SERVER=%s: %v", p, err)
	}
	return p
}

// startJSONServer runs json-server on a free port over a fresh db file and
// returns its base URL and the db file's path.
func startJSONServer(t *testing.T, bin string) (url, db string) {
	t.Helper()
	dir := t.TempDir()
	db = filepath.Join(dir, "db.json")
	if err := os.WriteFile(db, []byte(`{"customers":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	port := testproc.FreePort(t)
	url = fmt.Sprintf("http://127.0.0.1:%d", port)
	p := testproc.Start(t, testproc.Options{Log: filepath.Join(dir, "json-server.log"), Grace: 10 * time.Second},
		bin, "--host", "127.0.0.1", "--port", fmt.Sprint(port), "--quiet", db)
	p.WaitHTTP(t, url+"/customers", 30*time.Second, nil)
	return url, db
}

// readDB returns json-server's db file once it mentions every string in want:
// json-server writes the file after it answers.
func readDB(t *testing.T, db string, want ...string) []byte {
	t.Helper()
	return testproc.WaitFileContains(t, db, 10*time.Second, want...)
}

// TestSidecarInFrontOfJSONServerOnMoto is the legacy-app case with the aws
// provider: json-server's db file holds only sealed values, across a rotation.
func TestSidecarInFrontOfJSONServerOnMoto(t *testing.T) {
	js := jsonServer(t)
	m := startMoto(t)
	app, db := startJSONServer(t, js)
	alias, _ := m.createCMK(t)
	s := writeConfig(t, settings{upstream: app, endpoint: m.url, secret: secretName(), cmk: alias, refreshInterval: time.Second})
	fieldseal(t, "keys", "init", "--config", s.config)
	s.serve(t)
	s.waitReady(t, "ready", func(status int, rep readyReport) bool { return status == http.StatusOK })

	dana := customer("dana")
	dana["plan"] = "before-rotation"
	status, raw := post(t, s.proxy+"/customers", dana)
	if status != http.StatusCreated {
		t.Fatalf("POST through fieldseal: status %d: %s", status, raw)
	}
	var created struct{ ID json.Number }
	if err := json.Unmarshal(raw, &created); err != nil || created.ID == "" {
		t.Fatalf("no id in %s", raw)
	}

	t.Run("the app's db file holds only sealed values", func(t *testing.T) {
		b := readDB(t, db, "before-rotation", `"fs1:`)
		for _, p := range plaintextsOf(dana) {
			if bytes.Contains(b, []byte(p)) {
				t.Errorf("the db file holds plaintext %q:\n%s", p, b)
			}
		}
	})
	t.Run("GET through fieldseal opens what the app stored", func(t *testing.T) {
		status, raw := get(t, s.proxy+"/customers/"+created.ID.String())
		if err := checkOpened(raw, dana); status != http.StatusOK || err != nil {
			t.Errorf("status %d: %v", status, err)
		}
	})
	t.Run("after keys rotate new values in the db file carry key id 2 and old ones still open", func(t *testing.T) {
		fieldseal(t, "keys", "rotate", "--config", s.config)
		s.waitReady(t, "primary 2", func(status int, rep readyReport) bool { return rep.Keys.Primary == 2 })
		erin := customer("erin")
		erin["plan"] = "after-rotation"
		status, raw := post(t, s.proxy+"/customers", erin)
		if err := checkOpened(raw, erin); status != http.StatusCreated || err != nil {
			t.Fatalf("POST after rotation: status %d: %v", status, err)
		}
		var stored struct {
			Customers []map[string]any `json:"customers"`
		}
		if err := json.Unmarshal(readDB(t, db, "after-rotation"), &stored); err != nil || len(stored.Customers) != 2 {
			t.Fatalf("db file: %v, %d customers", err, len(stored.Customers))
		}
		if got := keyID(t, stored.Customers[0]["email"]); got != 1 {
			t.Errorf("value sealed before rotation carries key id %d, want 1", got)
		}
		if got := keyID(t, stored.Customers[1]["email"]); got != 2 {
			t.Errorf("value sealed after rotation carries key id %d, want 2", got)
		}
		status, raw = get(t, s.proxy+"/customers/"+created.ID.String())
		if err := checkOpened(raw, dana); status != http.StatusOK || err != nil {
			t.Errorf("value sealed before rotation: status %d, %v", status, err)
		}
	})
}
