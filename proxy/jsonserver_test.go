package proxy

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/tidwall/gjson"

	"github.com/fieldseal/fieldseal/crypto"
)

// jsonServer starts the real json-server (the legacy app of DESIGN.md
// section 10) on 127.0.0.1 over a db file in a temp dir. It skips outside CI
// when json-server is not installed; in CI (.ci/run installs it with
// `npm install -g json-server@0.17.4`) its absence is a failure.
func jsonServer(t *testing.T, seed string) (base *url.URL, dbFile string) {
	t.Helper()
	bin := os.Getenv("FIELDSEAL_JSON_SERVER")
	if bin == "" {
		bin, _ = exec.LookPath("json-server")
	}
	if bin == "" {
		msg := "json-server not found (npm install -g json-server@0.17.4, or set FIELDSEAL_JSON_SERVER)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	dbFile = filepath.Join(t.TempDir(), "db.json")
	if err := os.WriteFile(dbFile, []byte(seed), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close() // json-server cannot take a listener; a port race here only fails the start-up wait
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, dbFile, "--host", "127.0.0.1", "--port", port, "--quiet")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start json-server: %v", err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	base = &url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", port)}
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(base.String() + "/customers")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return base, dbFile
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("json-server did not answer on %s: %v", base, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestJSONServerStoresOnlyCiphertext runs the quick-start shape end to end:
// client -> fieldseal -> json-server. The app's own db file must hold only
// sealed values for protected fields, while clients read plaintext back, and
// a legacy plaintext record still reads.
func TestJSONServerStoresOnlyCiphertext(t *testing.T) {
	base, dbFile := jsonServer(t, `{"customers":[{"id":100,"name":"Legacy","email":"legacy@example.com"}]}`)
	h := &harness{ring: testRing(t), keys: &keyHolder{}}
	h.keys.p.Store(h.ring)
	p, err := New(Options{Upstream: base, Routes: testMap(t), Keys: h.keys, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	h.proxy = p
	h.front = httptest.NewServer(p)
	t.Cleanup(func() { h.front.Close(); p.CloseIdleConnections() })

	resp, body := h.do(t, http.MethodPost, "/customers", jsonHeader(), strings.NewReader(customer[:len(customer)-1]+`,"id":7}`))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	if gjson.GetBytes(body, "email").Str != "ada@example.com" || gjson.GetBytes(body, "address.street").Str != "12 Analytical Way" {
		t.Errorf("create echoed %s, want plaintext back", body)
	}

	// json-server persists after answering; wait (bounded) for the record.
	var stored []byte
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if stored, err = os.ReadFile(dbFile); err != nil {
			t.Fatal(err)
		}
		if gjson.GetBytes(stored, `customers.#(id==7)`).Exists() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("json-server never stored the record:\n%s", stored)
		}
	}
	if containsAny(stored, "ada@example.com", "7946", "Analytical", "123-45-6789") {
		t.Fatalf("json-server stored plaintext:\n%s", stored)
	}
	rec := gjson.GetBytes(stored, `customers.#(id==7)`)
	for _, f := range customerFields {
		if v := rec.Get(f.path).Str; !strings.HasPrefix(v, crypto.Prefix) {
			t.Errorf("stored %s = %q, want a sealed value in\n%s", f.path, v, stored)
		}
	}

	resp, body = h.do(t, http.MethodGet, "/customers/7", nil, nil)
	if resp.StatusCode != 200 || !jsonEqual(t, gjson.GetBytes(body, "address").Raw, gjson.Get(customer, "address").Raw) || gjson.GetBytes(body, "ssn").Str != "123-45-6789" {
		t.Errorf("read one: %d %s", resp.StatusCode, body)
	}
	resp, body = h.do(t, http.MethodGet, "/customers", nil, nil)
	emails := gjson.GetBytes(body, "#.email").Raw
	if resp.StatusCode != 200 || emails != `["legacy@example.com","ada@example.com"]` {
		t.Errorf("list: %d emails %s", resp.StatusCode, emails)
	}
}
