package awse2e_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// TestSidecarInFrontOfJSONServerOnMoto is the legacy-app case with the aws
// provider: json-server's db file holds only sealed values, across a rotation.
func TestSidecarInFrontOfJSONServerOnMoto(t *testing.T) {
	app := sidecartest.StartJSONServer(t, `{"customers":[]}`)
	m := startMoto(t)
	alias, _ := m.createCMK(t)
	s := writeConfig(t, settings{upstream: app.URL, endpoint: m.url, secret: secretName(), cmk: alias, refreshInterval: time.Second})
	fieldseal(t, "keys", "init", "--config", s.ConfigFile)
	s.serveReady(t)

	dana := customer("dana")
	dana["plan"] = "before-rotation"
	status, raw := post(t, s.URL+"/customers", dana)
	if status != http.StatusCreated {
		t.Fatalf("POST through fieldseal: status %d: %s", status, raw)
	}
	var created struct{ ID json.Number }
	if err := json.Unmarshal(raw, &created); err != nil || created.ID == "" {
		t.Fatalf("no id in %s", raw)
	}

	t.Run("the app's db file holds only sealed values", func(t *testing.T) {
		b := app.ReadDB(t, "before-rotation", `"fs1:`)
		for _, p := range plaintextsOf(dana) {
			if bytes.Contains(b, []byte(p)) {
				t.Errorf("the db file holds plaintext %q:\n%s", p, b)
			}
		}
	})
	t.Run("GET through fieldseal opens what the app stored", func(t *testing.T) {
		status, raw := get(t, s.URL+"/customers/"+created.ID.String())
		if err := checkOpened(raw, dana); status != http.StatusOK || err != nil {
			t.Errorf("status %d: %v", status, err)
		}
	})
	t.Run("after keys rotate new values in the db file carry key id 2 and old ones still open", func(t *testing.T) {
		fieldseal(t, "keys", "rotate", "--config", s.ConfigFile)
		s.waitReady(t, "primary 2", func(status int, rep readyReport) bool { return rep.Keys.Primary == 2 })
		erin := customer("erin")
		erin["plan"] = "after-rotation"
		status, raw := post(t, s.URL+"/customers", erin)
		if err := checkOpened(raw, erin); status != http.StatusCreated || err != nil {
			t.Fatalf("POST after rotation: status %d: %v", status, err)
		}
		var stored struct {
			Customers []map[string]any `json:"customers"`
		}
		if err := json.Unmarshal(app.ReadDB(t, "after-rotation"), &stored); err != nil || len(stored.Customers) != 2 {
			t.Fatalf("db file: %v, %d customers", err, len(stored.Customers))
		}
		if got := keyID(t, stored.Customers[0]["email"]); got != 1 {
			t.Errorf("value sealed before rotation carries key id %d, want 1", got)
		}
		if got := keyID(t, stored.Customers[1]["email"]); got != 2 {
			t.Errorf("value sealed after rotation carries key id %d, want 2", got)
		}
		status, raw = get(t, s.URL+"/customers/"+created.ID.String())
		if err := checkOpened(raw, dana); status != http.StatusOK || err != nil {
			t.Errorf("value sealed before rotation: status %d, %v", status, err)
		}
	})
}
