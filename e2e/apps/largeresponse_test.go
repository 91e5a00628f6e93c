package appse2e_test

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// serveRecords is a backend (newDocServer) with a records API whose answers are large:
//
//	POST /records/_bulk {"records":[{..},..]} stores them and answers 201
//	    with every stored record echoed, each with an id and a server-side
//	    history field, streamed (chunked) and gzip-encoded when the client
//	    accepts it;
//	GET /records lists every record, with a Content-Length.
func serveRecords(w http.ResponseWriter, r *http.Request, body []byte, st *storeState) {
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/records/_bulk":
		var in struct{ Records []map[string]any }
		if err := json.Unmarshal(body, &in); err != nil {
			http.Error(w, `{"error":"bad_request"}`, 400)
			return
		}
		for _, rec := range in.Records {
			rec["id"] = strconv.Itoa(len(st.records) + 1)
			rec["history"] = strings.Repeat("created by bulk import; ", 10)
			st.records = append(st.records, rec)
		}
		var out io.Writer = w
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			defer zw.Close()
			out = zw
		}
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(out).Encode(map[string]any{"records": st.records[len(st.records)-len(in.Records):]})
	case r.Method == http.MethodGet && r.URL.Path == "/records":
		b, _ := json.Marshal(map[string]any{"records": st.records})
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		_, _ = w.Write(b)
	default:
		http.NotFound(w, r)
	}
}

// bulk is a bulk request of n records with distinct emails.
func bulk(n int, tag string) string {
	var b strings.Builder
	b.WriteString(`{"records":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"email":"user%d.%s@example.com","name":"User %d"}`, i, tag, i)
	}
	b.WriteString(`]}`)
	return b.String()
}

var recordsRoutes = emailMap(
	route{name: "records", methods: "GET", paths: "/records", response: `"records.#.email"`},
	route{name: "bulk", methods: "POST", paths: "/records/_bulk", request: `"records.#.email"`, response: `"records.#.email"`})

// Issue 16 item 6: listing thousands of records (1.5 MB) answered 502 at
// the 1 MiB body limit, and a write the application accepted was reported
// as failed because its echo was large.
func TestLargeResponses(t *testing.T) {
	t.Run("a 1.5 MB listing is opened under the default response limit", func(t *testing.T) {
		api := newDocServer(t, serveRecords)
		sc := start(t, api.URL(), recordsRoutes)
		for i := range 2 {
			sc.DoWant(t, 201, sidecartest.Req{Method: "POST", Path: "/records/_bulk", JSON: bulk(2500, strconv.Itoa(i))})
		}
		resp := sc.Do(t, sidecartest.Req{Path: "/records"})
		if resp.Status != 200 || len(resp.Body) < 1500<<10 {
			t.Fatalf("list: %d, %d bytes %.200s", resp.Status, len(resp.Body), resp.Body)
		}
		if !strings.Contains(string(resp.Body), `"user2499.1@example.com"`) || strings.Contains(string(resp.Body), `"fs1:`) {
			t.Fatal("the listing was not opened whole")
		}
		if e, _ := api.records()[4999]["email"].(string); !strings.HasPrefix(e, "fs1:") {
			t.Fatalf("stored email %q, want sealed", e)
		}
	})

	t.Run("over max_response_bytes", func(t *testing.T) {
		api := newDocServer(t, serveRecords)
		sc := start(t, api.URL(), "limits: {max_response_bytes: 1MiB}\n"+recordsRoutes)
		for _, accept := range []string{"identity", "gzip"} {
			t.Run("a bulk write the app accepted is a 201 with its values left sealed ("+accept+")", func(t *testing.T) {
				resp := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/records/_bulk", JSON: bulk(3000, accept),
					Header: map[string]string{"Accept-Encoding": accept}})
				if resp.Status != http.StatusCreated || resp.Header.Get("X-Fieldseal-Body") != "sealed" {
					t.Fatalf("bulk: %d %s %.200s", resp.Status, resp.Header.Get("X-Fieldseal-Body"), resp.Body)
				}
				var echo struct{ Records []struct{ ID, Email string } }
				if err := json.Unmarshal(resp.Body, &echo); err != nil || len(echo.Records) != 3000 {
					t.Fatalf("echo: %v, %d records", err, len(echo.Records))
				}
				for _, r := range echo.Records {
					if !strings.HasPrefix(r.Email, "fs1:") {
						t.Fatalf("record %s email %q, want sealed", r.ID, r.Email)
					}
				}
			})
		}
		t.Run("a listing over it is a 502 naming the limit", func(t *testing.T) {
			resp := sc.Do(t, sidecartest.Req{Path: "/records"})
			if resp.Status != http.StatusBadGateway || sidecartest.ErrorCode(resp.Body) != "response_too_large" ||
				!strings.Contains(string(resp.Body), "limits.max_response_bytes") {
				t.Fatalf("list: %d %.300s", resp.Status, resp.Body)
			}
		})
		if n := sc.Metric(t, "fieldseal_proxy_requests_total", map[string]string{"route": "bulk", "outcome": "response_left_sealed"}); n != 2 {
			t.Fatalf("bulk writes counted as left sealed: %v", n)
		}
	})

	t.Run("a caller who may not read plaintext gets no body, never a sealed one with legacy plaintext", func(t *testing.T) {
		iss := newIssuer(t)
		api := newDocServer(t, serveRecords)
		// A record from before fieldseal: legacy plaintext in the store.
		api.addRecord(map[string]any{"id": "0", "email": "legacy@example.com"})
		sc := start(t, api.URL(), "limits: {max_response_bytes: 1MiB}\n"+iss.AuthYAML("app")+`policies:
  default:
    actions: {"*": mask}
    write: all
`+recordsRoutes)
		resp := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/records/_bulk", JSON: bulk(3000, "m"),
			Header: map[string]string{"Authorization": "Bearer " + iss.token(t, "app", nil)}})
		if resp.Status != http.StatusCreated || resp.Header.Get("X-Fieldseal-Body") != "withheld" || len(resp.Body) != 0 {
			t.Fatalf("bulk: %d %q %.200s", resp.Status, resp.Header.Get("X-Fieldseal-Body"), resp.Body)
		}
		if n := len(api.records()); n != 3001 {
			t.Fatalf("the store holds %d records, want the write applied", n)
		}
	})
}
