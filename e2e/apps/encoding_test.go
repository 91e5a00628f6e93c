package appse2e_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// serveNegotiating is a store (newDocServer) that keeps JSON documents at
// /customers/{id} and compresses its answers the way current web servers do
// (Caddy's "encode zstd br gzip"): in the first of its preferred codings the
// request's Accept-Encoding offers with a non-zero weight. It decodes gzip
// and zstd request bodies. A PUT answers 201 with an empty body labelled
// gzip, as some servers label every answer.
func serveNegotiating(w http.ResponseWriter, r *http.Request, raw []byte, st *storeState) {
	var body io.Reader = bytes.NewReader(raw)
	switch r.Header.Get("Content-Encoding") {
	case "gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			http.Error(w, "bad gzip", 400)
			return
		}
		body = zr
	case "zstd":
		zr, err := zstd.NewReader(body)
		if err != nil {
			http.Error(w, "bad zstd", 400)
			return
		}
		defer zr.Close()
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, "bad body", 400)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch r.Method {
	case http.MethodPut:
		st.docs[r.URL.Path] = b
		w.Header().Set("Content-Encoding", "gzip")
		w.WriteHeader(http.StatusCreated)
	case http.MethodGet:
		doc, ok := st.docs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		coding := negotiate(r.Header.Get("Accept-Encoding"), "zstd", "br", "gzip")
		var out bytes.Buffer
		var zw io.WriteCloser
		switch coding {
		case "zstd":
			zw, _ = zstd.NewWriter(&out)
		case "br":
			zw = brotli.NewWriter(&out)
		case "gzip":
			zw = gzip.NewWriter(&out)
		}
		if zw != nil {
			_, _ = zw.Write(doc)
			_ = zw.Close()
			doc = out.Bytes()
			w.Header().Set("Content-Encoding", coding)
		}
		_, _ = w.Write(doc)
	}
}

// negotiate returns the first of prefer that accept offers with a weight
// other than 0, or "".
func negotiate(accept string, prefer ...string) string {
	offered := map[string]bool{}
	for e := range strings.SplitSeq(accept, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(e), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			q, _ = strconv.ParseFloat(v, 64)
		}
		offered[strings.ToLower(strings.TrimSpace(name))] = q > 0
	}
	for _, p := range prefer {
		if offered[p] {
			return p
		}
	}
	return ""
}

// Issue 16 item 7: a browser's Accept-Encoding reached the upstream as it
// was, and an upstream that honours zstd had its protected response refused
// with 415; an empty body labelled gzip was a 502.
func TestContentCodingsBrowsersAndServersUse(t *testing.T) {
	store := newDocServer(t, serveNegotiating)
	sc := start(t, store.URL(), emailMap(route{name: "customer", methods: "GET, PUT", paths: `"/customers/{id}"`, request: "email", response: "email"}))
	t.Run("a write answered with an empty body labelled gzip is a 201", func(t *testing.T) {
		resp := sc.Do(t, sidecartest.Req{Method: "PUT", Path: "/customers/1", JSON: `{"email":"ada@example.com"}`,
			Header: map[string]string{"Accept-Encoding": "gzip"}})
		if resp.Status != http.StatusCreated || len(resp.Body) != 0 {
			t.Fatalf("PUT: %d %q, want 201 and no body", resp.Status, resp.Body)
		}
		mustNotHoldDoc(t, store, "/customers/1", "ada@example.com")
	})
	t.Run("a zstd request body is decoded and sealed", func(t *testing.T) {
		enc, _ := zstd.NewWriter(nil)
		body := enc.EncodeAll([]byte(`{"email":"bob@example.com"}`), nil)
		resp := sc.Do(t, sidecartest.Req{Method: "PUT", Path: "/customers/2", Body: body,
			Header: map[string]string{"Content-Type": "application/json", "Content-Encoding": "zstd"}})
		if resp.Status != http.StatusCreated {
			t.Fatalf("PUT zstd: %d %s", resp.Status, resp.Body)
		}
		mustNotHoldDoc(t, store, "/customers/2", "bob@example.com")
	})
	for _, tc := range []struct {
		name, accept, upstreamGot, coding string
	}{
		{"a browser's offer is answered in zstd and opened", "gzip, deflate, br, zstd", "gzip, deflate, br, zstd", "zstd"},
		{"codings the proxy cannot decode are not offered upstream", "dcz, compress;q=1, zstd;q=0.9, *;q=0.1, gzip;q=0.5", "zstd;q=0.9, gzip;q=0.5", "zstd"},
		{"br is answered in br", "br", "br", "br"},
		{"an offer of nothing decodable asks for identity", "compress, dcb", "identity", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := sc.Do(t, sidecartest.Req{Path: "/customers/1", Header: map[string]string{"Accept-Encoding": tc.accept}})
			if resp.Status != 200 {
				t.Fatalf("GET: %d %s", resp.Status, resp.Body)
			}
			if got := store.lastHeader().Get("Accept-Encoding"); got != tc.upstreamGot {
				t.Fatalf("the upstream was offered %q, want %q", got, tc.upstreamGot)
			}
			if ce := resp.Header.Get("Content-Encoding"); ce != tc.coding {
				t.Fatalf("Content-Encoding %q, want %q", ce, tc.coding)
			}
			plain := decodeAs(t, tc.coding, resp.Body)
			var doc struct{ Email string }
			if err := json.Unmarshal(plain, &doc); err != nil || doc.Email != "ada@example.com" {
				t.Fatalf("decoded body %s", plain)
			}
		})
	}
}

// mustNotHoldDoc fails the test unless the store keeps a sealed document at
// path without the plaintext.
func mustNotHoldDoc(t *testing.T, s *webServer, path, plaintext string) {
	t.Helper()
	doc := s.doc(path)
	if doc == nil || bytes.Contains(doc, []byte(plaintext)) || !bytes.Contains(doc, []byte(`"fs1:`)) {
		t.Fatalf("the store holds %s at %s, want it sealed", doc, path)
	}
}

func decodeAs(t *testing.T, coding string, b []byte) []byte {
	t.Helper()
	var r io.Reader = bytes.NewReader(b)
	switch coding {
	case "zstd":
		d, err := zstd.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		r = d
	case "br":
		r = brotli.NewReader(r)
	case "gzip":
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decode %s: %v", coding, err)
	}
	return out
}
