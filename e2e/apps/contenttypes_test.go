package appse2e_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
	"github.com/fieldseal/fieldseal/internal/testproc"
)

// servePlainJSON is a store (newDocServer) that keeps documents at /db/{id}
// and serves them as CouchDB does: as application/json only when the
// client's Accept names it, else as text/plain (curl and browsers send */*).
// /raw/{id} serves the same document with no Content-Type at all, and /note
// a text that starts like JSON but is not.
func servePlainJSON(w http.ResponseWriter, r *http.Request, b []byte, st *storeState) {
	id := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	switch {
	case r.URL.Path == "/note":
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "{fs1: is how sealed values start}")
	case r.Method == http.MethodPut:
		st.docs[id] = b
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"ok":true}`)
	case strings.HasPrefix(r.URL.Path, "/raw/"):
		w.Header()["Content-Type"] = nil // no sniffing by net/http either
		_, _ = w.Write(st.docs[id])
	default:
		if strings.Contains(r.Header.Get("Accept"), "application/json") {
			w.Header().Set("Content-Type", "application/json")
		} else {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		}
		_, _ = w.Write(st.docs[id])
	}
}

// Issue 16 item 4: JSON served as text/plain passed through still sealed.
// Routes name the response types that are JSON; sniffing is an opt-in.
func TestJSONServedWithOtherContentTypes(t *testing.T) {
	docMap := func(extra string) string {
		return emailMap(route{name: "doc", methods: "GET, PUT", paths: `"/db/{id}", "/raw/{id}", /note`, request: "email", response: "email", extra: extra})
	}
	put := func(t *testing.T, sc *sidecartest.Sidecar) {
		t.Helper()
		sc.DoWant(t, 201, sidecartest.Req{Method: "PUT", Path: "/db/ada", JSON: `{"email":"ada@example.com"}`})
	}
	get := func(t *testing.T, sc *sidecartest.Sidecar, path string) string {
		t.Helper()
		resp := sc.Do(t, sidecartest.Req{Path: path, Header: map[string]string{"Accept": "*/*"}})
		if resp.Status != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.Status, resp.Body)
		}
		return string(resp.Body)
	}

	t.Run("without response_types a text/plain document stays sealed", func(t *testing.T) {
		store := newDocServer(t, servePlainJSON)
		sc := start(t, store.URL(), docMap(""))
		put(t, sc)
		if body := get(t, sc, "/db/ada"); !strings.Contains(body, `"fs1:`) {
			t.Fatalf("GET */*: %s", body)
		}
	})
	t.Run("a route naming text/plain opens it", func(t *testing.T) {
		store := newDocServer(t, servePlainJSON)
		sc := start(t, store.URL(), docMap("    response_types: [text/plain]\n"))
		put(t, sc)
		if body := get(t, sc, "/db/ada"); body != `{"email":"ada@example.com"}` {
			t.Fatalf("GET */*: %s", body)
		}
		if body := get(t, sc, "/raw/ada"); !strings.Contains(body, `"fs1:`) {
			t.Fatalf("a body of no type is not sniffed unless asked: %s", body)
		}
		stored := string(store.doc("ada"))
		if !strings.Contains(stored, `"fs1:`) {
			t.Fatalf("stored %s", stored)
		}
	})
	t.Run("response_sniff opens JSON of any type and leaves other bodies alone", func(t *testing.T) {
		store := newDocServer(t, servePlainJSON)
		sc := start(t, store.URL(), docMap("    response_sniff: true\n"))
		put(t, sc)
		for _, path := range []string{"/db/ada", "/raw/ada"} {
			if body := get(t, sc, path); body != `{"email":"ada@example.com"}` {
				t.Fatalf("GET %s: %s", path, body)
			}
		}
		if body := get(t, sc, "/note"); body != "{fs1: is how sealed values start}" {
			t.Fatalf("a text that is not JSON: %s", body)
		}
	})
	t.Run("a response type that is not type/subtype is a config error", func(t *testing.T) {
		dir := t.TempDir()
		cfg := filepath.Join(dir, "fieldseal.yaml")
		yaml := "upstream: http://127.0.0.1:1\n" + docMap("    response_types: [\"text/*\"]\n")
		if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		res := testproc.Exec(t, testproc.Cmd{Dir: dir}, fieldsealBin, "config", "check", cfg)
		if res.Code == 0 || !strings.Contains(string(res.Stderr)+string(res.Stdout), "response_types") {
			t.Fatalf("config check: exit %d: %s %s", res.Code, res.Stdout, res.Stderr)
		}
	})
}
