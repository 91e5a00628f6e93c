package proxy

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/tidwall/gjson"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/internal/sidecartest"
	"github.com/fieldseal/fieldseal/internal/testproc"
)

// TestJSONServerStoresOnlyCiphertext runs the quick-start shape end to end:
// client -> fieldseal -> json-server. The app's own db file must hold only
// sealed values for protected fields, while clients read plaintext back, and
// a legacy plaintext record still reads.
func TestJSONServerStoresOnlyCiphertext(t *testing.T) {
	js := sidecartest.StartJSONServer(t, `{"customers":[{"id":100,"name":"Legacy","email":"legacy@example.com"}]}`)
	base, err := url.Parse(js.URL)
	if err != nil {
		t.Fatal(err)
	}
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
	testproc.Poll(t, 20*time.Second, func() error {
		if stored, err = os.ReadFile(js.DB); err != nil {
			t.Fatal(err)
		}
		if !gjson.GetBytes(stored, `customers.#(id==7)`).Exists() {
			return fmt.Errorf("json-server has not stored the record:\n%s", stored)
		}
		return nil
	})
	if containsAny(stored, "ada@example.com", "20 7946", "Analytical", "123-45-6789") {
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
