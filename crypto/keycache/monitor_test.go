package keycache_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"slices"
	"testing"

	"github.com/rs/zerolog"

	"github.com/fieldseal/fieldseal/crypto/keycache"
	"github.com/fieldseal/fieldseal/crypto/localkeys"
)

func TestMonitorLogsKeyEventsWithStableFields(t *testing.T) {
	path, mk := localRing(t)
	var out bytes.Buffer
	c := keycache.New(localkeys.New(path, mk), keycache.Options{
		Observer: keycache.NewMonitor(keycache.MonitorOptions{Logger: zerolog.New(&out)}),
	})
	original, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(`{"format":"garbage"`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.Refresh(context.Background()); err == nil {
		t.Fatal("a garbage ring file loaded")
	}
	if err := os.WriteFile(path, original, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.Refresh(context.Background()); err != nil { // same revision: not logged
		t.Fatal(err)
	}

	var lines []map[string]any
	for line := range bytes.Lines(out.Bytes()) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		lines = append(lines, m)
	}
	var events []string
	for _, l := range lines {
		events = append(events, l["event"].(string))
	}
	if want := []string{"keys_loaded", "keys_error"}; !slices.Equal(events, want) {
		t.Fatalf("logged events = %v, want %v", events, want)
	}
	rev := c.Keyring().Revision()
	loaded, failed := lines[0], lines[1]
	if loaded["level"] != "info" || loaded["revision"] != rev || loaded["primary"] != 1.0 ||
		!slices.Equal(loaded["versions"].([]any), []any{1.0}) || loaded["duration_seconds"] == nil || loaded["message"] != "key ring loaded" {
		t.Errorf("loaded line = %v", loaded)
	}
	if failed["level"] != "error" || failed["error"] == nil || failed["consecutive_failures"] != 1.0 ||
		failed["serving"] != true || failed["serving_revision"] != rev {
		t.Errorf("error line = %v", failed)
	}
}

func TestMonitorSaysWhenNoRingIsInService(t *testing.T) {
	path, mk := localRing(t)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	c := keycache.New(localkeys.New(path, mk), keycache.Options{
		Observer: keycache.NewMonitor(keycache.MonitorOptions{Logger: zerolog.New(&out), NoRingHint: "run keys init"}),
	})
	if err := c.Refresh(context.Background()); err == nil {
		t.Fatal("a missing ring loaded")
	}
	var line map[string]any
	if err := json.Unmarshal(out.Bytes(), &line); err != nil {
		t.Fatalf("log %q: %v", out.Bytes(), err)
	}
	msg, _ := line["message"].(string)
	if line["event"] != "keys_error" || line["serving"] != false || line["hint"] != "run keys init" ||
		!bytes.Contains([]byte(msg), []byte("no ring is in service")) || bytes.Contains([]byte(msg), []byte("keeping the ring")) {
		t.Errorf("log line = %v", line)
	}
}
