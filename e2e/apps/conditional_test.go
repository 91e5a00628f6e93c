package appse2e_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// newRevisionStore starts a store that keeps documents at /docs/{id} with
// optimistic concurrency, as document stores and REST frameworks do it:
// every write gives the document a new revision, sent as a strong ETag "N";
// a write with If-Match succeeds only when one of its tags strongly matches
// the current revision (RFC 9110 section 13.1.1: a weak tag never does),
// else 412; a GET with If-None-Match answers 304 (with the strong ETag) when
// a tag weakly matches.
func newRevisionStore(t *testing.T) *webServer {
	revs := map[string]int{} // guarded, like the documents, by the store's lock
	return newDocServer(t, func(w http.ResponseWriter, r *http.Request, b []byte, st *storeState) {
		serveRevisions(w, r, b, st, revs)
	})
}

func serveRevisions(w http.ResponseWriter, r *http.Request, b []byte, st *storeState, revs map[string]int) {
	etag := `"` + strconv.Itoa(revs[r.URL.Path]) + `"`
	tags := func(h string) []string {
		var out []string
		for _, v := range r.Header.Values(h) {
			for e := range strings.SplitSeq(v, ",") {
				out = append(out, strings.TrimSpace(e))
			}
		}
		return out
	}
	switch r.Method {
	case http.MethodPut:
		if im := tags("If-Match"); len(im) > 0 {
			ok := false
			for _, e := range im {
				ok = ok || e == "*" || (!strings.HasPrefix(e, "W/") && e == etag && revs[r.URL.Path] > 0)
			}
			if !ok {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusPreconditionFailed)
				_, _ = io.WriteString(w, `{"error":"conflict"}`)
				return
			}
		}
		revs[r.URL.Path]++
		st.docs[r.URL.Path] = b
		w.Header().Set("ETag", `"`+strconv.Itoa(revs[r.URL.Path])+`"`)
		w.WriteHeader(http.StatusCreated)
	case http.MethodGet:
		doc, ok := st.docs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("ETag", etag)
		for _, e := range tags("If-None-Match") {
			if strings.TrimPrefix(e, "W/") == etag {
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	}
}

// Issue 16 item 9: the weak ETag fieldseal puts on a transformed response
// never matched If-Match on the next write (always 412), and 304 answers
// restored the strong ETag. Optimistic concurrency works through the proxy.
func TestOptimisticConcurrencyThroughTheProxy(t *testing.T) {
	store := newRevisionStore(t)
	sc := start(t, store.URL(), emailMap(route{name: "doc", methods: "GET, PUT", paths: `"/docs/{id}"`, request: "email", response: "email"}))
	put := func(email string, header map[string]string) sidecartest.Resp {
		return sc.Do(t, sidecartest.Req{Method: "PUT", Path: "/docs/1", JSON: `{"email":"` + email + `"}`, Header: header})
	}
	if resp := put("ada@example.com", nil); resp.Status != http.StatusCreated || resp.Header.Get("ETag") != `"1"` {
		t.Fatalf("create: %d ETag %q", resp.Status, resp.Header.Get("ETag"))
	}
	read := sc.Do(t, sidecartest.Req{Path: "/docs/1"})
	var doc struct{ Email string }
	if err := json.Unmarshal(read.Body, &doc); err != nil || doc.Email != "ada@example.com" {
		t.Fatalf("read: %d %s", read.Status, read.Body)
	}
	etag := read.Header.Get("ETag")
	if etag != `W/"1"` {
		t.Fatalf("ETag of the opened document %q, want the upstream's made weak", etag)
	}

	t.Run("a write with the tag the client read succeeds", func(t *testing.T) {
		resp := put("ada@example.org", map[string]string{"If-Match": etag})
		if resp.Status != http.StatusCreated {
			t.Fatalf("PUT If-Match %s: %d %s, want 201", etag, resp.Status, resp.Body)
		}
		if got := store.lastHeader().Get("If-Match"); got != `"1"` {
			t.Fatalf("the upstream got If-Match %q, want the strong tag", got)
		}
	})
	t.Run("a write with a stale tag still gets the upstream's 412", func(t *testing.T) {
		resp := put("mallory@example.com", map[string]string{"If-Match": etag})
		if resp.Status != http.StatusPreconditionFailed {
			t.Fatalf("stale PUT: %d %s, want 412", resp.Status, resp.Body)
		}
	})
	t.Run("a 304 keeps the tag weak", func(t *testing.T) {
		resp := sc.Do(t, sidecartest.Req{Path: "/docs/1", Header: map[string]string{"If-None-Match": `W/"2"`}})
		if resp.Status != http.StatusNotModified {
			t.Fatalf("GET If-None-Match: %d %s, want 304", resp.Status, resp.Body)
		}
		if et := resp.Header.Get("ETag"); et != `W/"2"` {
			t.Fatalf("304 ETag %q, want W/\"2\"", et)
		}
	})
	t.Run("the stored document is sealed and the last accepted one", func(t *testing.T) {
		b := string(store.doc("/docs/1"))
		if strings.Contains(b, "@example") || !strings.Contains(b, `"fs1:`) {
			t.Fatalf("stored %s", b)
		}
		read := sc.Do(t, sidecartest.Req{Path: "/docs/1"})
		if !strings.Contains(string(read.Body), "ada@example.org") {
			t.Fatalf("read back %s", read.Body)
		}
	})
}
