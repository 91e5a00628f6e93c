package workload

import (
	"bytes"
	"compress/gzip"
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
	t.Run("large is exactly 1 MB of valid JSON with the customer's fields and a long history", func(t *testing.T) {
		doc := Large()
		if len(doc) != LargeSize || !json.Valid(doc) {
			t.Fatalf("large is %d bytes (want %d), valid JSON: %v", len(doc), LargeSize, json.Valid(doc))
		}
		for _, f := range CustomerFields() {
			if v := gjson.GetBytes(doc, f.Path); v.Type != gjson.String || v.Str == "" {
				t.Errorf("field %s is %v, want a non-empty string", f.Path, v.Type)
			}
		}
		if n := gjson.GetBytes(doc, "history.#").Int(); n < 5000 {
			t.Errorf("history has %d events, want thousands", n)
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
		{"get of a large record serves the large fixture", http.MethodGet, PathSealedLargeGet, nil, http.StatusOK, Large()},
		{"a large document is echoed whole", http.MethodPost, PathSealedLargePost, Large(), http.StatusCreated, Large()},
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

func TestUpstreamGzip(t *testing.T) {
	srv := httptest.NewServer(NewUpstream())
	defer srv.Close()
	for _, tt := range []struct {
		path string
		want []byte
	}{
		{PathSealedGet, Customer()}, {PathSealedList, List()}, {PathSealedLargeGet, Large()},
	} {
		t.Run("a get accepting gzip with "+QueryGzip+" gets "+tt.path+" gzip-encoded", func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+tt.path+"?"+QueryGzip, nil)
			req.Header.Set("Accept-Encoding", "gzip") // set by hand: the client leaves the body encoded
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.Header.Get("Content-Encoding") != "gzip" {
				t.Fatalf("Content-Encoding %q, want gzip", resp.Header.Get("Content-Encoding"))
			}
			zr, err := gzip.NewReader(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("decoded body %.60q..., want %.60q...", got, tt.want)
			}
		})
	}
}

func TestUpstreamGzipNeedsTheQuery(t *testing.T) {
	t.Run("a get accepting gzip without the query gets the plain document", func(t *testing.T) {
		srv := httptest.NewServer(NewUpstream())
		defer srv.Close()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+PathSealedGet, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		if resp.Header.Get("Content-Encoding") != "" || !bytes.Equal(got, Customer()) {
			t.Fatalf("Content-Encoding %q, %d bytes", resp.Header.Get("Content-Encoding"), len(got))
		}
	})
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
			{"POST", PathSealedLargePost, "bench-large-post"},
			{"GET", PathSealedLargeGet, "bench-large-get"},
			{"POST", "/seed/" + FixtureLarge, "bench-seed-large"},
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

	t.Run("with an issuer the config authenticates callers and lets the bench client decrypt", func(t *testing.T) {
		raw := FieldsealConfigWith("127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3", "/tmp/ring.json",
			ConfigOptions{AuthIssuer: "http://127.0.0.1:4", AuthClientID: "bench-client"})
		cfg, err := config.Parse(raw, "bench.yaml")
		if err != nil {
			t.Fatalf("config.Parse: %v\n%s", err, raw)
		}
		if cfg.Auth == nil || cfg.Auth.Issuer != "http://127.0.0.1:4" {
			t.Fatalf("auth section not parsed: %+v", cfg.Auth)
		}
		if !strings.Contains(string(raw), `actions: {"*": decrypt}`) {
			t.Fatalf("no decrypting caller:\n%s", raw)
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
