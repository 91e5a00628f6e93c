package appse2e_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// feedStore keeps documents at /db/{id} and serves its changes as feeds
// that stay open until the test releases them:
//
//	GET /db/_changes   application/json, one {"id":..,"doc":{..}} per line
//	                   (CouchDB's feed=continuous), a blank heartbeat line
//	                   after the first
//	GET /db/_ndjson    the same as application/x-ndjson
//	GET /db/_events    text/event-stream: per change an event with an
//	                   "event:" and "id:" field and the change as data,
//	                   and a ": heartbeat" comment
//
// Every feed writes (and flushes) all changes but the last, then waits for
// release before writing the last one: a client that reads the first
// changes before release shows they were forwarded as they came.
type feedStore struct {
	*webServer
	release chan struct{}
	mu      sync.Mutex
	docs    map[string]json.RawMessage
}

func newFeedStore(t *testing.T) *feedStore {
	s := &feedStore{docs: map[string]json.RawMessage{}, release: make(chan struct{})}
	s.webServer = newWebServer(t, s.serve)
	return s
}

func (s *feedStore) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.docs[strings.TrimPrefix(r.URL.Path, "/db/")] = b
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"ok":true}`)
		return
	}
	s.mu.Lock()
	ids := make([]string, 0, len(s.docs))
	for id := range s.docs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	changes := make([]string, len(ids))
	for i, id := range ids {
		changes[i] = fmt.Sprintf(`{"seq":%d,"id":%q,"doc":%s}`, i+1, id, s.docs[id])
	}
	s.mu.Unlock()
	sse := r.URL.Path == "/db/_events"
	switch r.URL.Path {
	case "/db/_changes":
		w.Header().Set("Content-Type", "application/json")
	case "/db/_ndjson":
		w.Header().Set("Content-Type", "application/x-ndjson")
	case "/db/_events":
		w.Header().Set("Content-Type", "text/event-stream")
	default:
		http.NotFound(w, r)
		return
	}
	rc := http.NewResponseController(w)
	for i, c := range changes {
		if i == len(changes)-1 {
			select {
			case <-s.release:
			case <-r.Context().Done():
				return
			}
		}
		if sse {
			fmt.Fprintf(w, "event: change\nid: %d\ndata: %s\n\n", i+1, c)
			if i == 0 {
				_, _ = io.WriteString(w, ": heartbeat\n\n")
			}
		} else {
			fmt.Fprintf(w, "%s\n", c)
			if i == 0 {
				_, _ = io.WriteString(w, "\n")
			}
		}
		_ = rc.Flush()
	}
}

// feedClass is the e-mail class of the feed tests, a member name as well
// as the routes' paths.
const feedClass = "{mode: random, keys: [email]}"

// Issue 16 item 5: change feeds, NDJSON feeds and server-sent events were
// buffered (and cut at the body timeout) or passed through still sealed.
// They are opened record by record as they stream.
func TestFeedsAndStreamsAreOpenedAsTheyCome(t *testing.T) {
	store := newFeedStore(t)
	sc := start(t, store.URL(), fieldMap("email", feedClass,
		route{name: "docs", methods: "PUT", paths: `"/db/{id}"`, request: "email"},
		route{name: "changes", methods: "GET", paths: "/db/_changes", response: "doc.email", extra: "    stream: ndjson\n"},
		route{name: "feeds", methods: "GET", paths: "/db/_ndjson, /db/_events", response: "doc.email"}))
	emails := []string{"ada@example.com", "bob@example.com", "cy@example.com"}
	for i, e := range emails {
		sc.DoWant(t, 201, sidecartest.Req{Method: "PUT", Path: fmt.Sprintf("/db/%d", i), JSON: `{"email":"` + e + `"}`})
	}
	store.mu.Lock()
	for id, d := range store.docs {
		if !strings.Contains(string(d), `"fs1:`) {
			t.Fatalf("stored %s: %s", id, d)
		}
	}
	store.mu.Unlock()

	for _, tc := range []struct{ path, wantType string }{
		{"/db/_changes", "application/json"},
		{"/db/_ndjson", "application/x-ndjson"},
		{"/db/_events", "text/event-stream"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, sc.URL+tc.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.wantType) {
				t.Fatalf("status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			br := bufio.NewReader(resp.Body)
			var got []string
			var lines []string
			released := false
			for len(got) < len(emails) {
				line, err := br.ReadString('\n')
				if err != nil {
					t.Fatalf("after %q: %v", lines, err)
				}
				lines = append(lines, line)
				doc, isData := strings.CutPrefix(strings.TrimSpace(line), "data: ")
				if strings.HasPrefix(tc.wantType, "text/event-stream") && !isData {
					continue
				}
				if strings.TrimSpace(doc) == "" {
					continue
				}
				var c struct{ Doc struct{ Email string } }
				if err := json.Unmarshal([]byte(doc), &c); err != nil {
					t.Fatalf("record %q: %v", doc, err)
				}
				got = append(got, c.Doc.Email)
				if len(got) == len(emails)-1 && !released {
					// Every change but the last arrived while the upstream
					// still holds the feed open.
					released = true
					close(store.release)
				}
			}
			store.release = make(chan struct{})
			if strings.Join(got, ",") != strings.Join(emails, ",") {
				t.Fatalf("changes opened as %q, want %q (lines %q)", got, emails, lines)
			}
			if strings.HasPrefix(tc.wantType, "text/event-stream") {
				all := strings.Join(lines, "")
				if !strings.Contains(all, "event: change\nid: 1\ndata: ") || !strings.Contains(all, ": heartbeat\n") {
					t.Fatalf("event fields not kept: %q", all)
				}
			}
		})
	}
}

// A record that cannot be opened cuts the stream after the records before
// it: the status is sent, so the client cannot get a 502, and must not get
// the record.
func TestAStreamRecordThatDoesNotOpenCutsTheStream(t *testing.T) {
	store := newFeedStore(t)
	sc := start(t, store.URL(), fieldMap("email", feedClass,
		route{name: "feeds", methods: "GET, PUT", paths: `/db/_ndjson, "/db/{id}"`, request: "email", response: "doc.email"}))
	sc.DoWant(t, 201, sidecartest.Req{Method: "PUT", Path: "/db/0", JSON: `{"email":"ada@example.com"}`})
	store.mu.Lock()
	store.docs["1"] = json.RawMessage(`{"email":"fs1:AAAAtampered","note":"after the tampered value"}`)
	store.mu.Unlock()
	close(store.release)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, sc.URL+"/db/_ndjson", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Fatalf("the stream ended cleanly: %s", body)
	}
	if !strings.Contains(string(body), "ada@example.com") || strings.Contains(string(body), "after the tampered value") {
		t.Fatalf("the client got %q", body)
	}
}
