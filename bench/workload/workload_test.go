package workload

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/fieldseal/fieldseal/config"
	"github.com/fieldseal/fieldseal/fieldmap"
)

func TestDocuments(t *testing.T) {
	t.Run("customer is exactly 1 KB of valid JSON with string fields", func(t *testing.T) {
		doc := Customer()
		if len(doc) != CustomerSize {
			t.Fatalf("customer is %d bytes, want %d", len(doc), CustomerSize)
		}
		if !json.Valid(doc) {
			t.Fatal("customer is not valid JSON")
		}
		for _, f := range CustomerFields() {
			if v := gjson.GetBytes(doc, f.Path); v.Type != gjson.String || v.Str == "" {
				t.Errorf("field %s is %v, want a non-empty string", f.Path, v.Type)
			}
		}
	})
	t.Run("list has 100 elements with both protected fields and is about 20 KB", func(t *testing.T) {
		doc := List()
		if !json.Valid(doc) {
			t.Fatal("list is not valid JSON")
		}
		if n := len(doc); n < 18<<10 || n > 22<<10 {
			t.Errorf("list is %d bytes, want about 20 KB", n)
		}
		for _, f := range ListFields() {
			vals := gjson.GetBytes(doc, f.Path).Array()
			if len(vals) != ListLen {
				t.Fatalf("path %s matched %d values, want %d", f.Path, len(vals), ListLen)
			}
		}
	})
}

func TestUpstream(t *testing.T) {
	u := NewUpstream()
	srv := httptest.NewServer(u)
	defer srv.Close()

	seeded := []byte(`{"email":"fs1:sealed"}`)
	tests := []struct {
		name       string
		method     string
		path       string
		body       []byte
		wantStatus int
		wantBody   []byte
	}{
		{"health check answers 200", http.MethodGet, "/healthz", nil, http.StatusOK, []byte{}},
		{"post echoes the body as 201", http.MethodPost, "/plain/customers", Customer(), http.StatusCreated, Customer()},
		{"get of one customer serves the customer fixture", http.MethodGet, "/sealed/customers/1", nil, http.StatusOK, Customer()},
		{"get of the collection serves the list fixture", http.MethodGet, "/customers", nil, http.StatusOK, List()},
		{"unknown seed is refused", http.MethodPost, "/seed/other", []byte(`{}`), http.StatusNotFound, nil},
		{"seed replaces the customer fixture", http.MethodPost, "/seed/customer", seeded, http.StatusCreated, seeded},
		{"get after the seed serves the seeded body", http.MethodGet, "/plain/customers/7", nil, http.StatusOK, seeded},
		{"body over the limit is refused", http.MethodPost, "/customers", bytes.Repeat([]byte("x"), MaxBodyBytes+1), http.StatusRequestEntityTooLarge, nil},
		{"unknown route is 404", http.MethodDelete, "/customers/1", nil, http.StatusNotFound, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, bytes.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d (body %q)", resp.StatusCode, tt.wantStatus, got)
			}
			if tt.wantBody == nil {
				return
			}
			if !bytes.Equal(got, tt.wantBody) {
				t.Errorf("body %.60q..., want %.60q...", got, tt.wantBody)
			}
			if len(got) > 0 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Errorf("content type %q, want application/json", resp.Header.Get("Content-Type"))
			}
		})
	}
}

func TestFieldsealConfig(t *testing.T) {
	t.Run("the rendered config passes fieldseal's own loader and field-map compiler", func(t *testing.T) {
		cfg, err := config.Parse(FieldsealConfig("127.0.0.1:8080", "127.0.0.1:9090", "127.0.0.1:3000", "/tmp/ring.json"), "bench.yaml")
		if err != nil {
			t.Fatalf("config.Parse: %v", err)
		}
		m, err := fieldmap.Compile(cfg.FieldMap())
		if err != nil {
			t.Fatalf("fieldmap.Compile: %v", err)
		}
		tests := []struct {
			method, path string
			route        string // "" = no route: passed through
		}{
			{"POST", PathSealedPost, "bench-post"},
			{"GET", PathSealedGet, "bench-get"},
			{"GET", PathSealedList, "bench-list"},
			{"POST", "/seed/" + FixtureCustomer, "bench-seed-customer"},
			{"POST", "/seed/" + FixtureList, "bench-seed-list"},
			{"POST", PathPlainPost, ""},
			{"GET", PathPlainGet, ""},
		}
		for _, tt := range tests {
			r := m.Match(tt.method, tt.path)
			switch {
			case tt.route == "" && r != nil:
				t.Errorf("%s %s matched route %s, want none", tt.method, tt.path, r.Name)
			case tt.route != "" && (r == nil || r.Name != tt.route):
				t.Errorf("%s %s matched %v, want route %s", tt.method, tt.path, r, tt.route)
			}
		}
		if r := m.Match("POST", PathSealedPost); r == nil || r.Request == nil || r.Response == nil ||
			len(r.Request.Fields) != 5 || len(r.Response.Fields) != 5 {
			t.Errorf("the POST route does not seal 5 fields and open 5: %+v", r)
		}
	})

	t.Run("route paths with {id} are quoted so YAML reads them as strings", func(t *testing.T) {
		cfg := string(FieldsealConfig("127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3", "/tmp/ring.json"))
		for _, want := range []string{
			`paths: ["/sealed/customers/{id}"]`,
			`- { path: "address.street", class: street }`,
			`- { path: "#.email", class: email }`,
			"master_key_env: " + MasterKeyEnv,
		} {
			if !strings.Contains(cfg, want) {
				t.Errorf("config lacks %q:\n%s", want, cfg)
			}
		}
	})
}
